// The load client of the demo, the tests, scripts/ and the bench, in a
// process of its own; prints one JSON object on stdout. Plain node:net, so
// that the client does not depend on the package it measures.
//
//   node tools/load.mjs --port=8080 [--workers=2] [--connections=200]
//     [--requests=5] [--concurrency=50] [--seconds=10] [--timeout=5000]
//     [--close] [--hold] [--trace] [--tls] [--resume] [--unix=<path>]
//   node tools/load.mjs --port=8080 --echo=<bytes>
//
// HTTP/1.1 GET, each request waiting for its whole answer before the next on
// its connection. An answer whose body names its worker (`worker 2 pid 4242`,
// as examples/http_app.mjs answers) is counted for that worker.
//
// --workers=N     first wait (up to 10 s, not counted) until N workers answered
//                 (`ready`: how many did; `seen`: a pid of each)
// --connections   how many, `--concurrency` at a time; each sends `--requests`
//                 requests (0: as many as it can) one after another on it.
//                 Connections not done within `--seconds` count as failed.
//                 An answer with `Connection: close` ends its connection: the
//                 requests left go on a new one (counted in `connections`).
// --connections=0 duration mode: new connections until `--seconds` is up
// --close         one request per connection, saying `Connection: close`;
//                 the connection is done when the server has closed it
// --hold          connections stay open once answered; the result is printed
//                 then, and the process ends when stdin closes
// --timeout       a request not answered within this many ms fails
//                 (`unanswered`), as a connection that does not connect within
//                 it does (ETIMEDOUT)
// --trace         also list every connection: opened/closed (ms since epoch),
//                 the pids that answered it, the error that ended it
// --tls           HTTPS: each connection is node:tls (the certificate is not
//                 verified: the load measures serving, the handshake is whole);
//                 a connection counts as connected once its handshake is done
// --resume        with --tls: each connection offers the last session ticket
//                 the server gave (TLS resumption, as wrk's connections do);
//                 `resumed` counts the connections the server resumed
// --unix=<path>   connect to the Unix socket at that path, not to --port
// --echo=N        not HTTP: sends N bytes to an echo server in 64 KiB chunks
//                 while reading them back; prints {"bytes": N, "seconds": S}
import { connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import process from "node:process";

const HOST = "127.0.0.1";
const options = {
  port: 0,
  workers: 0,
  connections: 200,
  requests: 5,
  concurrency: 50,
  seconds: 10,
  timeout: 5000,
  close: false,
  hold: false,
  trace: false,
  tls: false,
  resume: false,
  echo: 0,
  unix: "",
};
for (const arg of process.argv.slice(2)) {
  const [, name, value] = /^--([a-z]+)(?:=(.*))?$/.exec(arg) ?? [];
  if (!(name in options)) {
    console.error(`load.mjs: unknown argument ${arg}`);
    process.exit(2);
  }
  const type = typeof options[name];
  options[name] = type === "boolean"
    ? true
    : type === "string"
    ? value ?? ""
    : Number(value);
}
if (!(options.port > 0) && !options.unix) {
  console.error("load.mjs: --port=N or --unix=<path> is required");
  process.exit(2);
}
if (options.unix && (options.tls || options.echo)) {
  console.error("load.mjs: --unix is for plain HTTP, without --tls or --echo");
  process.exit(2);
}
if (options.resume && !options.tls) {
  console.error("load.mjs: --resume is for --tls");
  process.exit(2);
}
if (options.close) options.requests = 1;

/** The last TLS session the server gave (`--resume`). */
let session;
/** Connections whose session the server resumed (`--resume`). */
let resumed = 0;

const REQUEST = Buffer.from(
  `GET / HTTP/1.1\r\nHost: ${HOST}\r\n` +
    (options.close ? "Connection: close\r\n" : "") + "\r\n",
  "latin1",
);

/**
 * One connection; `onConnect` runs once it is connected. `request()`
 * resolves the answer's worker and pid (when its body names them), and
 * `close` when the server said it ends the connection. The first request
 * may be sent at once: it leaves as the connection is made, and a failed
 * connect fails it.
 */
function open(port, onConnect) {
  const socket = options.tls
    ? tlsConnect({ host: HOST, port, rejectUnauthorized: false, session })
    : tcpConnect(options.unix ? { path: options.unix } : { host: HOST, port });
  if (options.resume) {
    socket.on("session", (given) => session = given);
    socket.once("secureConnect", () => {
      if (socket.isSessionReused()) resumed++;
    });
  }
  socket.once(options.tls ? "secureConnect" : "connect", onConnect);
  let buffered = "";
  let waiting = null;
  const fail = (err) => {
    const w = waiting;
    waiting = null;
    w?.reject(err);
  };
  socket.setEncoding("latin1");
  // One timer for both: a connection not made in time timed out, a request
  // in flight on one that was is unanswered.
  socket.setTimeout(options.timeout, () => {
    const err = socket.connecting
      ? Object.assign(new Error(`not connected in ${options.timeout} ms`), {
        code: "ETIMEDOUT",
      })
      : new Error("unanswered");
    fail(err);
    socket.destroy();
  });
  socket.on("data", (chunk) => {
    buffered += chunk;
    const end = buffered.indexOf("\r\n\r\n");
    if (end < 0 || !waiting) return;
    const head = buffered.slice(0, end);
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1]);
    if (buffered.length < end + 4 + length) return;
    const body = buffered.slice(end + 4, end + 4 + length);
    buffered = buffered.slice(end + 4 + length);
    const w = waiting;
    waiting = null;
    if (!head.startsWith("HTTP/1.1 200 ")) {
      w.reject(new Error(`unexpected answer: ${head.split("\r\n")[0]}`));
      return;
    }
    const [, worker, pid] = /^worker (\S+) pid (\d+)/.exec(body) ?? [];
    w.resolve({
      worker,
      pid: Number(pid),
      close: /\r\nconnection:\s*close/i.test(head),
    });
  });
  const closed = new Promise((done) => socket.once("close", done));
  socket.on("error", (err) => fail(err));
  socket.on("close", () => fail(new Error("closed by the server")));
  return {
    request() {
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        socket.write(REQUEST);
      });
    },
    /** Resolves once the connection is closed. */
    closed,
    /** Keeps the connection open, without a timeout. */
    hold: () => socket.setTimeout(0),
    close: () => socket.destroy(),
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until `n` different workers answered; their pids, by worker. */
async function waitForWorkers(port, n) {
  const seen = {};
  const until = Date.now() + 10_000;
  while (Object.keys(seen).length < n && Date.now() < until) {
    try {
      const conn = open(port, () => {});
      const { worker, pid } = await conn.request();
      if (worker) seen[worker] = pid;
      conn.close();
    } catch {
      await sleep(50);
    }
  }
  return seen;
}

/** The HTTP load: connections, requests, failures, answers per worker. */
async function http() {
  const durationMode = options.connections === 0;
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
  const held = [];

  /** One connection's requests; `deadline` ends them. */
  async function oneConnection(deadline) {
    const record = {
      opened: Date.now(),
      closed: 0,
      pids: [],
      error: undefined,
    };
    result.trace?.push(record);
    let conn;
    let answered = 0;
    const connected = () => result.connections++;
    try {
      conn = open(options.port, connected);
      const byWorker = new Set();
      while (
        (options.requests === 0 || answered < options.requests) &&
        Date.now() < deadline
      ) {
        const { worker, pid, close } = await conn.request();
        answered++;
        result.requests++;
        if (close && answered !== options.requests) {
          // The server ends this connection: the rest go on a new one.
          conn.close();
          conn = open(options.port, connected);
        }
        if (!worker) continue;
        const w = result.workers[worker] ??= {
          connections: 0,
          requests: 0,
          pids: [],
        };
        w.requests++;
        if (!byWorker.has(worker)) w.connections++;
        byWorker.add(worker);
        if (!w.pids.includes(pid)) w.pids.push(pid);
        if (!record.pids.includes(pid)) record.pids.push(pid);
      }
      if (!durationMode && answered < options.requests) {
        throw new Error("out of time");
      }
      // Not on a connection that came too late for a request: the server
      // would wait for one.
      if (options.close && answered) await conn.closed;
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
      if (options.hold && !record.error) {
        conn.hold();
        held.push(conn);
      } else conn?.close();
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
      while (
        durationMode ? Date.now() < deadline : next < options.connections
      ) {
        next++;
        await oneConnection(deadline);
      }
    }),
  );
  result.seconds = (Date.now() - started) / 1000;
  if (options.resume) result.resumed = resumed;
  if (seen) {
    result.ready = Object.keys(seen).length;
    result.seen = seen;
  }
  console.log(JSON.stringify(result));
  if (options.hold) {
    process.stdin.resume();
    process.stdin.on("end", () => held.forEach((conn) => conn.close()));
  }
}

/** Sends `bytes` to an echo server and reads them back. */
function echo(bytes) {
  const CHUNK = 64 * 1024;
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const socket = tcpConnect({ host: HOST, port: options.port });
    const chunk = Buffer.alloc(CHUNK, 120);
    let sent = 0;
    let received = 0;
    socket.on("error", reject);
    socket.on("data", (data) => {
      received += data.length;
      if (received < bytes) return;
      socket.destroy();
      resolve({ bytes: received, seconds: (Date.now() - start) / 1000 });
    });
    socket.on("close", () => {
      if (received < bytes) {
        reject(
          new Error(`echo server closed after ${received} of ${bytes} bytes`),
        );
      }
    });
    const send = () => {
      while (sent < bytes) {
        const n = Math.min(CHUNK, bytes - sent);
        sent += n;
        if (!socket.write(n === CHUNK ? chunk : chunk.subarray(0, n))) {
          return socket.once("drain", send);
        }
      }
    };
    socket.once("connect", send);
  });
}

if (options.echo > 0) console.log(JSON.stringify(await echo(options.echo)));
else await http();
