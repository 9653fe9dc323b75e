// HTTP/1.1 keep-alive load against examples/http_app.mjs, from a process of
// its own; prints one JSON object on stdout. Plain node:net, so that the
// client does not depend on the package it measures. Used by the demo, the
// runner tests and scripts/measure.ts.
//
//   node tools/load.mjs --port=8080 [--workers=2] [--connections=200]
//     [--requests=5] [--concurrency=50] [--seconds=10] [--timeout=5000] [--trace]
//
// --workers=N     first wait (up to 10 s, not counted) until N workers answered
//                 (`ready`: how many did; `seen`: a pid of each)
// --connections   how many, `--concurrency` at a time; each sends `--requests`
//                 requests (0: as many as it can) one after another on it.
//                 Connections not done within `--seconds` count as failed.
//                 An answer with `Connection: close` ends its connection: the
//                 requests left go on a new one (counted in `connections`).
// --connections=0 duration mode: new connections until `--seconds` is up
// --timeout     a request not answered within this many ms fails (`unanswered`),
//               and a connection quiet that long (not even connected) fails as
//               ETIMEDOUT
// --trace       also list every connection: opened/closed (ms since epoch),
//               the pids that answered it, the error that ended it
import { connect } from "node:net";
import process from "node:process";

const options = {
  port: 0,
  workers: 0,
  connections: 200,
  requests: 5,
  concurrency: 50,
  seconds: 10,
  timeout: 5000,
  trace: false,
};
for (const arg of process.argv.slice(2)) {
  const [, name, value] = /^--([a-z]+)(?:=(.*))?$/.exec(arg) ?? [];
  if (!(name in options)) {
    console.error(`load.mjs: unknown argument ${arg}`);
    process.exit(2);
  }
  options[name] = name === "trace" ? true : Number(value);
}
if (!(options.port > 0)) {
  console.error("load.mjs: --port=N is required");
  process.exit(2);
}

const REQUEST = Buffer.from(
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
  "latin1",
);

/**
 * One keep-alive connection; `request()` resolves the body's worker and pid,
 * and `close` when the server said it ends the connection.
 */
function open(port) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let buffered = "";
    let waiting = null;
    const fail = (err) => {
      const w = waiting;
      waiting = null;
      w?.reject(err);
    };
    socket.setEncoding("latin1");
    if (options.timeout > 0) {
      socket.setTimeout(options.timeout, () => {
        const err = new Error(`no answer in ${options.timeout} ms`);
        socket.destroy(Object.assign(err, { code: "ETIMEDOUT" }));
      });
    }
    socket.on("data", (chunk) => {
      buffered += chunk;
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0 || !waiting) return;
      const length = Number(
        /\r\ncontent-length:\s*(\d+)/i.exec(buffered.slice(0, end))?.[1],
      );
      if (buffered.length < end + 4 + length) return;
      const status = buffered.slice(0, buffered.indexOf("\r\n"));
      const close = /\r\nconnection:\s*close/i.test(buffered.slice(0, end));
      const body = buffered.slice(end + 4, end + 4 + length);
      buffered = buffered.slice(end + 4 + length);
      const [, worker, pid] = /^worker (\S+) pid (\d+)/.exec(body) ?? [];
      const w = waiting;
      waiting = null;
      if (status !== "HTTP/1.1 200 OK" || !worker) {
        w.reject(new Error(`unexpected answer: ${status} ${body}`));
      } else w.resolve({ worker, pid: Number(pid), close });
    });
    socket.on("error", (err) => fail(err));
    socket.on("close", () => fail(new Error("closed by the server")));
    socket.once("connect", () => {
      socket.removeListener("error", reject);
      resolve({
        request() {
          return new Promise((res, rej) => {
            const timer = setTimeout(() => {
              fail(new Error("unanswered"));
              socket.destroy();
            }, options.timeout);
            const settle = (f) => (v) => {
              clearTimeout(timer);
              f(v);
            };
            waiting = { resolve: settle(res), reject: settle(rej) };
            socket.write(REQUEST);
          });
        },
        close: () => socket.destroy(),
      });
    });
    socket.once("error", reject);
  });
}

const durationMode = options.connections === 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until `n` different workers answered; their pids, by worker. */
async function waitForWorkers(port, n) {
  const seen = {};
  const until = Date.now() + 10_000;
  while (Object.keys(seen).length < n && Date.now() < until) {
    try {
      const conn = await open(port);
      const { worker, pid } = await conn.request();
      seen[worker] = pid;
      conn.close();
    } catch {
      await sleep(50);
    }
  }
  return seen;
}

const result = {
  connections: 0,
  requests: 0,
  failed: 0,
  failedConnections: 0,
  errors: {},
  seconds: 0,
  workers: {},
  trace: options.trace ? [] : undefined,
};

async function oneConnection(deadline) {
  const record = { opened: Date.now(), closed: 0, pids: [], error: undefined };
  result.trace?.push(record);
  let conn;
  let answered = 0;
  try {
    conn = await open(options.port);
    result.connections++;
    const byWorker = new Set();
    while (
      (options.requests === 0 || answered < options.requests) &&
      Date.now() < deadline
    ) {
      const { worker, pid, close } = await conn.request();
      if (close && answered + 1 !== options.requests) {
        // The server ends this connection: the rest go on a new one.
        conn.close();
        conn = await open(options.port);
        result.connections++;
      }
      answered++;
      result.requests++;
      if (!result.workers[worker]) {
        result.workers[worker] = { connections: 0, requests: 0, pids: [] };
      }
      const w = result.workers[worker];
      w.requests++;
      if (!byWorker.has(worker)) w.connections++;
      byWorker.add(worker);
      if (!w.pids.includes(pid)) w.pids.push(pid);
      if (!record.pids.includes(pid)) record.pids.push(pid);
    }
    if (!durationMode && answered < options.requests) {
      throw new Error("out of time");
    }
  } catch (err) {
    const code = err.code ?? err.message;
    record.error = code;
    result.errors[code] = (result.errors[code] ?? 0) + 1;
    result.failedConnections++;
    // The request in flight, and the ones this connection did not get to.
    result.failed += durationMode || options.requests === 0
      ? 1
      : options.requests - answered;
  } finally {
    conn?.close();
    record.closed = Date.now();
  }
}

const seen = options.workers > 0
  ? await waitForWorkers(options.port, options.workers)
  : undefined;
const started = Date.now();
const deadline = started + options.seconds * 1000;
let next = 0;
await Promise.all(
  Array.from({ length: options.concurrency }, async () => {
    while (durationMode ? Date.now() < deadline : next < options.connections) {
      next++;
      await oneConnection(deadline);
    }
  }),
);
result.seconds = (Date.now() - started) / 1000;
if (seen) {
  result.ready = Object.keys(seen).length;
  result.seen = seen;
}
console.log(JSON.stringify(result));
