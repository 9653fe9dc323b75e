// `npm start`: the parallel runner serves examples/http_app.mjs in 2 workers
// on one port; another process (tools/load.mjs) sends 200 keep-alive
// connections × 5 requests; each answer names its worker, and the table shows
// how the runner spread them. Then a rolling reload under load: the workers
// are replaced one at a time while 16 clients keep connecting, and the table
// shows the new pids and what failed (nothing should). Threads on Node 24,
// processes before it; on Deno (`deno run -A examples/demo.mjs`) processes
// with the kernel strategy. Runs against the npm build (`npm start` builds it
// first).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { serveParallel } from "../npm/esm/mod.js";
import { freePort, LOAD_NODE, runLoad } from "../npm/esm/tools/balancing.js";

const WORKERS = 2;
const LOAD = { connections: 200, requests: 5, concurrency: 50, seconds: 10 };
/** The load during the reload: 16 clients, new connections for 5 s. */
const RELOAD_LOAD = {
  connections: 0,
  requests: 5,
  concurrency: 16,
  seconds: 5,
};
const onDeno = "Deno" in globalThis;

/** Runs the load in a process of its own, once every worker answers. */
function load(port, spec) {
  return runLoad(LOAD_NODE, { port, workers: WORKERS, ...spec });
}

/** A bar for `value`'s share of `total`: 20 characters would be all of it. */
function bar(value, total) {
  return "█".repeat(total > 0 ? Math.round((value / total) * 20) : 0);
}

/** Linux's net.ipv4.tcp_migrate_req, where it can be read. */
function migrateReq() {
  try {
    return readFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "utf8").trim();
  } catch {
    return undefined;
  }
}

/** The per-worker table of a load's result. */
function table(result) {
  const rows = Array.from({ length: WORKERS }, (_, i) => {
    const w = result.workers[String(i + 1)];
    return {
      worker: i + 1,
      pids: w?.pids.join(",") ?? "-",
      connections: w?.connections ?? 0,
      requests: w?.requests ?? 0,
    };
  });
  const width = Math.max(6, ...rows.map((r) => r.pids.length));
  console.log(
    `\nworker  ${"pid".padEnd(width)}  ${"connections".padEnd(28)}requests`,
  );
  for (const r of rows) {
    console.log(
      `${String(r.worker).padStart(6)}  ${r.pids.padEnd(width)}  ` +
        `${String(r.connections).padStart(6)} ${
          bar(r.connections, result.connections).padEnd(21)
        }` +
        `${String(r.requests).padStart(6)} ${bar(r.requests, result.requests)}`,
    );
  }
  for (const [error, count] of Object.entries(result.errors)) {
    console.log(`error: ${error} × ${count}`);
  }
  return rows.filter((r) => r.requests === 0).map((r) => r.worker);
}

const port = freePort();
// Workers read PORT when they start, and again when one is restarted.
process.env.PORT = String(port);
const server = await serveParallel({
  file: fileURLToPath(new URL("http_app.mjs", import.meta.url)),
  workers: WORKERS,
  onEvent: ({ type, worker, code, message }) => {
    if (type === "restart" || type === "give-up") {
      console.error(`worker ${worker} exited with code ${code} (${type})`);
    }
    if (type === "reload-failed") console.error(message);
  },
});
// In the runner's workers listen() defaults to loadBalanced: true.
const { strategy, reason } = server.strategy;
const how = strategy !== "emulated"
  ? ""
  : server.mode === "threads"
  ? "; the main thread owns the socket and moves each connection to the worker thread waiting for one"
  : "; the primary owns the socket and passes each connection over IPC to the worker process waiting for one";
const runtimeName = onDeno
  ? `Deno ${globalThis.Deno.version.deno}`
  : `Node ${process.version}`;

console.log(
  `${runtimeName}: ${server.workers} workers (${server.mode}) on 127.0.0.1:${port}`,
);
console.log(`strategy: ${strategy} (${reason}${how})`);

let result;
let reloaded;
let changes = [];
let reloadMs = 0;
try {
  result = await load(port, LOAD);
  // The reload, while 16 clients keep connecting.
  const during = load(port, RELOAD_LOAD);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const began = Date.now();
  changes = await server.reload().catch((err) => {
    console.error(err.message);
    return [];
  });
  reloadMs = Date.now() - began;
  reloaded = await during;
} catch (err) {
  console.error(err.message);
}
const stopping = Date.now();
await server.close();
const stopMs = Date.now() - stopping;
if (!result || !reloaded) process.exit(1);

const { connections, requests, concurrency } = LOAD;
console.log(
  `load from another process: ${connections} connections × ${requests} requests, ${concurrency} at a time: ` +
    `${result.requests} answered, ${result.failed} failed, in ${
      result.seconds.toFixed(2)
    } s`,
);
const idle = table(result);
if (idle.length) console.log(`worker ${idle.join(", ")} served nothing`);

console.log(
  `\nrolling reload under load (${RELOAD_LOAD.concurrency} clients, new connections × ${RELOAD_LOAD.requests} requests for ${RELOAD_LOAD.seconds} s): ` +
    changes.map((c) =>
      `worker ${c.worker} ${
        server.mode === "threads" ? "thread" : "pid"
      } ${c.old} -> ${c.new}`
    ).join(", ") + ` in ${reloadMs} ms`,
);
console.log(
  `${reloaded.requests} answered, ${reloaded.failed} failed (${reloaded.connections} connections)`,
);
table(reloaded);
if (strategy === "kernel" && reloaded.failed > 0) {
  console.log(
    `kernel strategy: connections still queued on the socket of a worker that stops are reset by the kernel${
      migrateReq() === "0"
        ? " here (net.ipv4.tcp_migrate_req=0; with 1 the kernel moves them to another worker's socket)"
        : ""
    }`,
  );
}
console.log(`\nthe runner stopped its workers in ${stopMs} ms`);
process.exitCode = result.failed === 0 && idle.length === 0 &&
    changes.length === WORKERS && reloaded.failed === 0
  ? 0
  : 1;
