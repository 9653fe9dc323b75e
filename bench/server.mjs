// The servers of `npm run bench`: one file, one workload per API, plain
// JavaScript so that Node and Deno run it as it is.
//
//   <runtime> bench/server.mjs <api> <workload> [options]
//
// api:      ours   — this package, imported from --module (relative to here)
//           raw    — node:net
//           native — Deno.listen
//           bun    — Bun.listen (http, close and echo)
// workload: http   — minimal keep-alive HTTP/1.1 responder
//           close  — the same, one request per connection, then close
//           cpu    — http with 1 ms of CPU burnt per request
//           echo   — ours/native: read/write loop with a 64 KiB buffer;
//                    raw: socket.pipe(socket); bun: write back what its
//                    data callback hands over, paused while the kernel
//                    has not taken it all
//           pipe   — ours/native: readable.pipeTo(writable);
//                    raw: socket.pipe(socket)
// options:  --module=<path>  --port=<n>  --reuse-port  --cluster=<workers>
//           --parallel=<workers>  --hold-buffer  --read-buffer=<bytes>
//           --read-loop
//           --cert=<file> --key=<file>  --unix=<path>
//           (--cluster: raw only, node:cluster with that many workers;
//            --parallel: ours only, this package's runner, serveParallel(),
//            in processes: the workers share the port by the emulated
//            strategy, and report their counters through --stats-dir;
//            --hold-buffer: raw and bun only, each connection keeps a buffer of the
//            size ours reads into, so that a memory comparison counts the
//            application's read buffer on both sides;
//            --read-buffer: the http workloads' read buffer (4096);
//            --read-loop: bun and http only, each connection served by the
//            read/write loop ours runs, over the least a read() of Deno's
//            shape needs on Bun.listen (a promise resolved by the data
//            callback, copying into the loop's buffer): what any server of
//            Deno's API holds on Bun, whoever implements it;
//            --cert, --key: http and close over TLS with that PEM key
//            pair: ours listenTls, raw node:tls, native Deno.listenTls,
//            bun Bun.listen's tls;
//            --unix: http and close on a Unix socket at that path instead
//            of TCP: ours listen({ transport: "unix" }), raw node:net,
//            native Deno.listen({ transport: "unix" }), bun Bun.listen's
//            unix; the first line of stdout is then the path)
//
// Prints the port as the first line of stdout, then answers lines on stdin:
//   stats       → {"requests":[per worker],"connections":n,"rss":bytes}
//   listen <n>  → opens n more listeners on port 0, then answers as stats
// `rss` comes after a full GC when the runtime runs with --expose-gc.
import cluster from "node:cluster";
import process from "node:process";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const HOST = "127.0.0.1";
const BODY = "Hello, World!";
const encoder = new TextEncoder();
/** Big enough for a pipelined burst of minimal requests (--read-buffer sets it). */
const HTTP_BUFFER_DEFAULT = 4 * 1024;
const ECHO_BUFFER = 64 * 1024;
const BURN_MS = 1;
/** How often a runner worker writes its counters (--stats-dir). */
const STATS_EVERY_MS = 100;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    module: { type: "string" },
    port: { type: "string", default: "0" },
    "reuse-port": { type: "boolean", default: false },
    cluster: { type: "string" },
    parallel: { type: "string" },
    "stats-dir": { type: "string" },
    "hold-buffer": { type: "boolean", default: false },
    "read-buffer": { type: "string" },
    "read-loop": { type: "boolean", default: false },
    cert: { type: "string" },
    key: { type: "string" },
    unix: { type: "string" },
  },
});
const [api, workload] = positionals;
const port = Number(values.port);
const workers = values.cluster === undefined ? 0 : Number(values.cluster);
const parallel = values.parallel === undefined ? 0 : Number(values.parallel);
const HTTP_BUFFER = values["read-buffer"] === undefined
  ? HTTP_BUFFER_DEFAULT
  : Number(values["read-buffer"]);
if (!["ours", "raw", "native", "bun"].includes(api)) {
  throw new TypeError(`bench/server.mjs: unknown api '${api}'`);
}
if (!["http", "close", "cpu", "echo", "pipe"].includes(workload)) {
  throw new TypeError(`bench/server.mjs: unknown workload '${workload}'`);
}
if (api === "bun" && !["http", "close", "echo"].includes(workload)) {
  throw new TypeError(
    `bench/server.mjs: api 'bun' serves http, close and echo only`,
  );
}
if (api === "ours" && !values.module) {
  throw new TypeError("bench/server.mjs: api 'ours' needs --module=<path>");
}
if (workers && (api !== "raw" || !(workers >= 1))) {
  throw new TypeError(
    `bench/server.mjs: --cluster=${values.cluster} needs api 'raw' and a count >= 1`,
  );
}

if (
  (values.cert || values.key) &&
  !(values.cert && values.key && ["http", "close"].includes(workload))
) {
  throw new TypeError(
    "bench/server.mjs: --cert and --key go together, for http and close only",
  );
}

if (!(Number.isInteger(HTTP_BUFFER) && HTTP_BUFFER > 0)) {
  throw new TypeError(
    `bench/server.mjs: --read-buffer=${values["read-buffer"]} is no byte count`,
  );
}

if (values["read-loop"] && (api !== "bun" || workload !== "http")) {
  throw new TypeError("bench/server.mjs: --read-loop needs api 'bun' and http");
}

if (values["hold-buffer"] && api !== "raw" && api !== "bun") {
  throw new TypeError(
    "bench/server.mjs: --hold-buffer needs api 'raw' or 'bun'",
  );
}

if (
  values.unix !== undefined &&
  (!values.unix || !["http", "close"].includes(workload) || values.cert ||
    workers || parallel)
) {
  throw new TypeError(
    "bench/server.mjs: --unix=<path> serves http and close only, without TLS or workers",
  );
}

if (parallel && (api !== "ours" || !(parallel >= 1))) {
  throw new TypeError(
    `bench/server.mjs: --parallel=${values.parallel} needs api 'ours' and a count >= 1`,
  );
}

function response(keepAlive) {
  return encoder.encode(
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" +
      `Content-Length: ${BODY.length}\r\n` +
      `Connection: ${keepAlive ? "keep-alive" : "close"}\r\n\r\n${BODY}`,
  );
}
const RESPONSE = response(workload !== "close");

/** Counts requests (ends of headers, `\r\n\r\n`) across chunk boundaries. */
function requestCounter() {
  let state = 0; // how much of "\r\n\r\n" was seen at the end of the last chunk
  return (bytes, length) => {
    let requests = 0;
    for (let i = 0; i < length; i++) {
      const b = bytes[i];
      if (b === 13) state = state === 2 ? 3 : 1;
      else if (b === 10 && (state === 1 || state === 3)) {
        if (state === 3) {
          requests++;
          state = 0;
        } else state = 2;
      } else state = 0;
    }
    return requests;
  };
}

let requests = 0;
let connections = 0;

/** Counts `n` requests, burns their CPU, and returns their responses. */
function handle(n) {
  requests += n;
  if (workload === "cpu") {
    const end = performance.now() + n * BURN_MS;
    while (performance.now() < end) {
      // The handler's work: CPU only.
    }
  }
  if (n === 1) return RESPONSE;
  const out = new Uint8Array(RESPONSE.length * n);
  for (let i = 0; i < n; i++) out.set(RESPONSE, i * RESPONSE.length);
  return out;
}

/**
 * Writes all of `bytes`: Deno's `write` may take part of them (ours takes
 * all at once, so the loop ends after one turn there). The echo's 64 KiB
 * needs it; a minimal response is taken whole, and the request rows write
 * it directly.
 */
async function writeAll(conn, bytes) {
  let done = await conn.write(bytes);
  while (done < bytes.byteLength) {
    done += await conn.write(bytes.subarray(done));
  }
}

/** One connection on `Deno.listen` or this package: the same code on both. */
async function serveConn(conn) {
  connections++;
  try {
    if (workload === "pipe") {
      await conn.readable.pipeTo(conn.writable);
      return;
    }
    const buf = new Uint8Array(workload === "echo" ? ECHO_BUFFER : HTTP_BUFFER);
    const count = requestCounter();
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      if (workload === "echo") {
        await writeAll(conn, buf.subarray(0, n));
        continue;
      }
      const got = count(buf, n);
      if (got === 0) continue;
      await conn.write(handle(got));
      if (workload === "close") break;
    }
  } catch {
    // The load generator hung up.
  } finally {
    connections--;
    try {
      conn.close();
    } catch {
      // Already closed (pipeTo closes it at the end).
    }
  }
}

/** One connection on node:net. */
function serveSocket(socket) {
  connections++;
  socket.on("close", () => connections--);
  socket.on("error", () => socket.destroy());
  if (workload === "echo" || workload === "pipe") {
    socket.pipe(socket);
    return;
  }
  const count = requestCounter();
  // What ours holds in its pending read(): the application's buffer.
  if (values["hold-buffer"]) socket.appBuffer = new Uint8Array(HTTP_BUFFER);
  socket.on("data", (chunk) => {
    const got = count(chunk, chunk.length);
    if (got === 0) return;
    if (workload === "close") socket.end(handle(got));
    else socket.write(handle(got));
  });
}

/** Bun.listen's callbacks: one counter per socket, on `socket.data`. */
const bunHandlers = {
  open(socket) {
    connections++;
    const count = requestCounter();
    // What ours holds in its pending read(): the application's buffer.
    if (values["hold-buffer"]) count.appBuffer = new Uint8Array(HTTP_BUFFER);
    socket.data = count;
  },
  data(socket, chunk) {
    const got = socket.data(chunk, chunk.length);
    if (got === 0) return;
    // Small responses: the kernel takes them whole (write returns its length).
    socket.write(handle(got));
    if (workload === "close") socket.end();
  },
  close() {
    connections--;
  },
  error() {},
};

/**
 * Bun.listen behind `read()`/`write()` of Deno's shape, and no more: the
 * read waiting for data is one promise whose resolver the socket keeps,
 * and data that comes with no read waiting waits as it came. `serveConn`
 * runs the same loop over it as over ours.
 */
const bunReadLoop = {
  open(socket) {
    const conn = {
      buf: null,
      resolve: null,
      waiting: [],
      read(buf) {
        const chunk = conn.waiting.shift();
        if (chunk === null) return Promise.resolve(null);
        if (chunk) return Promise.resolve(copyInto(buf, chunk));
        return new Promise((resolve) => {
          conn.buf = buf;
          conn.resolve = resolve;
        });
      },
      write(bytes) {
        socket.write(bytes);
        return Promise.resolve(bytes.byteLength);
      },
      close() {
        socket.end();
      },
    };
    socket.data = conn;
    serveConn(conn);
  },
  data(socket, chunk) {
    const conn = socket.data;
    if (!conn.resolve) return void conn.waiting.push(chunk);
    const resolve = conn.resolve;
    conn.resolve = null;
    resolve(copyInto(conn.buf, chunk));
  },
  close(socket) {
    const conn = socket.data;
    if (conn.resolve) conn.resolve(null);
    else conn.waiting.push(null);
    conn.resolve = null;
  },
  error() {},
};

/** Copies what fits of `chunk` into `buf` (a minimal request always does). */
function copyInto(buf, chunk) {
  const n = Math.min(buf.byteLength, chunk.byteLength);
  buf.set(chunk.subarray(0, n));
  return n;
}

/**
 * Bun.listen's echo: what the kernel does not take at once waits, in order,
 * with the socket paused, until `drain` says there is room again.
 */
const bunEcho = {
  open(socket) {
    connections++;
    socket.data = [];
  },
  data(socket, chunk) {
    const waiting = socket.data;
    if (waiting.length > 0) {
      waiting.push(chunk.slice());
      return;
    }
    const n = socket.write(chunk);
    if (n < chunk.byteLength) {
      waiting.push(chunk.slice(Math.max(n, 0)));
      socket.pause();
    }
  },
  drain(socket) {
    const waiting = socket.data;
    while (waiting.length > 0) {
      const n = socket.write(waiting[0]);
      if (n < waiting[0].byteLength) {
        waiting[0] = waiting[0].subarray(Math.max(n, 0));
        return;
      }
      waiting.shift();
    }
    socket.resume();
  },
  close() {
    connections--;
  },
  error() {},
};

/** The key pair of --cert and --key, read once. */
const keyPair = values.cert
  ? await (async () => {
    const { readFileSync } = await import("node:fs");
    return {
      cert: readFileSync(values.cert, "utf8"),
      key: readFileSync(values.key, "utf8"),
    };
  })()
  : undefined;

const lib = api === "raw"
  ? await import(keyPair ? "node:tls" : "node:net")
  : api === "bun"
  ? globalThis.Bun
  : api === "native"
  ? globalThis.Deno
  : await import(new URL(values.module, import.meta.url).href);

/** Listens on the Unix socket `path` and serves; resolves the path once listening. */
function serveUnix(path) {
  if (api === "raw") {
    const server = lib.createServer(serveSocket);
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => resolve(path));
    });
  }
  if (api === "bun") {
    lib.listen({ unix: path, socket: bunHandlers });
    return Promise.resolve(path);
  }
  const listener = lib.listen({ transport: "unix", path });
  (async () => {
    for await (const conn of listener) serveConn(conn);
  })();
  return Promise.resolve(path);
}

/** Listens on `at` and serves; resolves the port once listening. */
function serve(at, reusePort) {
  if (values.unix) return serveUnix(values.unix);
  if (api === "raw") {
    const server = keyPair
      ? lib.createServer(keyPair, serveSocket)
      : lib.createServer(serveSocket);
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port: at, host: HOST }, () => {
        resolve(server.address().port);
      });
    });
  }
  if (api === "bun") {
    const server = lib.listen({
      hostname: HOST,
      port: at,
      reusePort,
      socket: workload === "echo"
        ? bunEcho
        : values["read-loop"]
        ? bunReadLoop
        : bunHandlers,
      ...(keyPair ? { tls: keyPair } : {}),
    });
    return Promise.resolve(server.port);
  }
  const options = { hostname: HOST, port: at, reusePort };
  const listener = keyPair
    ? lib.listenTls({ ...options, ...keyPair })
    : lib.listen(options);
  (async () => {
    for await (const conn of listener) serveConn(conn);
  })();
  return Promise.resolve(listener.addr.port);
}

function counters() {
  return { requests: [requests], connections, rss: process.memoryUsage.rss() };
}

/** A full GC where the runtime offers one: V8's with --expose-gc, Bun's always. */
function collect() {
  if (globalThis.gc) globalThis.gc();
  else globalThis.Bun?.gc(true);
}

function stats() {
  collect();
  return { ...counters(), heap: process.memoryUsage().heapUsed };
}

/** The counters of several workers as one server's. */
function merged(each) {
  return {
    requests: each.flatMap((s) => s.requests),
    connections: each.reduce((sum, s) => sum + s.connections, 0),
    rss: each.reduce((sum, s) => sum + s.rss, 0),
  };
}

/** Answers the harness's commands on stdin, one JSON line each. */
function answerCommands(statsOf) {
  const lines = createInterface({ input: process.stdin });
  lines.on("line", async (line) => {
    const [command, arg] = line.trim().split(/\s+/);
    if (command === "listen") {
      for (let i = 0; i < Number(arg); i++) await serve(0, false);
    } else if (command !== "stats") {
      throw new TypeError(`bench/server.mjs: unknown command '${line}'`);
    }
    console.log(JSON.stringify(await statsOf()));
  });
}

if (parallel) {
  // The runner's primary: a free port, workers that write their counters to
  // files, and the counters summed from those files on request.
  const { mkdtempSync, readdirSync, readFileSync, rmSync } = await import(
    "node:fs"
  );
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { fileURLToPath } = await import("node:url");
  const { freePort } = await import("../npm/esm/tools/balancing.js");
  const chosen = freePort();
  const dir = mkdtempSync(join(tmpdir(), "reuseport-bench-stats-"));
  const server = await lib.serveParallel({
    file: fileURLToPath(import.meta.url),
    workers: parallel,
    mode: "processes",
    args: [
      api,
      workload,
      `--module=${values.module}`,
      `--port=${chosen}`,
      `--stats-dir=${dir}`,
    ],
  });
  const stop = () =>
    server.close().finally(() => rmSync(dir, { recursive: true, force: true }));
  process.once("SIGTERM", () => stop().then(() => process.exit(0)));
  // Listening once every worker has written its first counters.
  while (readdirSync(dir).length < parallel) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  console.log(chosen);
  answerCommands(async () => {
    await new Promise((resolve) => setTimeout(resolve, 3 * STATS_EVERY_MS));
    const each = readdirSync(dir).sort().map((f) =>
      JSON.parse(readFileSync(join(dir, f), "utf8"))
    );
    return merged(each);
  });
} else if (values["stats-dir"]) {
  // A runner worker: counters to a file of its own, often.
  const { writeFileSync, renameSync } = await import("node:fs");
  const { join } = await import("node:path");
  await serve(port, false);
  const file = join(
    values["stats-dir"],
    `${process.env.REUSEPORT_WORKER}.json`,
  );
  const write = () => {
    writeFileSync(`${file}.tmp`, JSON.stringify(counters()));
    renameSync(`${file}.tmp`, file);
  };
  write();
  setInterval(write, STATS_EVERY_MS).unref();
} else if (workers && cluster.isPrimary) {
  // node:cluster as a Node user would set it up: the workers share the port.
  const forked = Array.from({ length: workers }, () => cluster.fork());
  const ports = await Promise.all(
    forked.map((w) =>
      new Promise((resolve) =>
        w.once("listening", (address) => resolve(address.port))
      )
    ),
  );
  cluster.on("exit", () => process.exit(1));
  console.log(ports[0]);
  answerCommands(async () => {
    const each = await Promise.all(forked.map((w) =>
      new Promise((resolve) => {
        w.once("message", resolve);
        w.send("stats");
      })
    ));
    return { ...merged(each), rss: process.memoryUsage.rss() };
  });
} else if (workers) {
  await serve(port, false);
  process.on("message", () => process.send(stats()));
} else {
  console.log(await serve(port, values["reuse-port"]));
  answerCommands(stats);
}
