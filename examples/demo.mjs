// `npm start`: the parallel runner serves examples/http_app.mjs in 2 workers
// on one port; another process (examples/_load.mjs) sends 200 keep-alive
// connections × 5 requests; each answer names its worker, and the table shows
// how the runner spread them. Threads on Node 24, processes before it.
// Runs on Node against the npm build (`npm start` builds it first).
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { serveParallel, strategyFor } from "../npm/esm/mod.js";

const WORKERS = 2;
const LOAD = { connections: 200, requests: 5, concurrency: 50, seconds: 10 };
const root = fileURLToPath(new URL("..", import.meta.url));

/** A port that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer().once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Runs the load in a process of its own; resolves its JSON result. */
function load(port) {
  const args = Object.entries({ port, workers: WORKERS, ...LOAD })
    .map(([name, value]) => `--${name}=${value}`);
  const child = spawn(process.execPath, ["examples/_load.mjs", ...args], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (chunk) => out += chunk);
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => {
      if (code === 0) resolve(JSON.parse(out));
      else reject(new Error(`examples/_load.mjs exited with code ${code}`));
    });
  });
}

/** A bar for `value`'s share of `total`: 40 characters would be all of it. */
function bar(value, total) {
  return "█".repeat(total > 0 ? Math.round((value / total) * 40) : 0);
}

const port = await freePort();
// Workers read PORT when they start, and again when one is restarted.
process.env.PORT = String(port);
const server = await serveParallel({
  file: fileURLToPath(new URL("http_app.mjs", import.meta.url)),
  workers: WORKERS,
  onEvent: ({ type, worker, code }) => {
    if (type === "restart" || type === "give-up") {
      console.error(`worker ${worker} exited with code ${code} (${type})`);
    }
  },
});
// In the runner's workers listen() defaults to loadBalanced: true.
const { strategy, reason } = strategyFor({ loadBalanced: true });
const how = strategy !== "emulated"
  ? ""
  : server.mode === "threads"
  ? "; the main thread owns the socket and moves each connection to the worker thread waiting for one"
  : "; the primary owns the socket and passes each connection over IPC to the worker process waiting for one";

console.log(
  `Node ${process.version}: ${server.workers} workers (${server.mode}) on 127.0.0.1:${port}`,
);
console.log(`strategy: ${strategy} (${reason}${how})`);

let result;
try {
  result = await load(port);
} catch (err) {
  console.error(err.message);
}
const stopping = Date.now();
await server.close();
const stopMs = Date.now() - stopping;
if (!result) process.exit(1);

const { connections, requests, concurrency } = LOAD;
console.log(
  `load from another process: ${connections} connections × ${requests} requests, ${concurrency} at a time: ` +
    `${result.requests} answered, ${result.failed} failed, in ${
      result.seconds.toFixed(2)
    } s`,
);
const rows = Array.from({ length: WORKERS }, (_, i) => {
  const w = result.workers[String(i + 1)];
  return {
    worker: i + 1,
    pids: w?.pids.join(",") ?? "-",
    connections: w?.connections ?? 0,
    requests: w?.requests ?? 0,
  };
});
console.log(`\nworker  pid     ${"connections".padEnd(27)}requests`);
for (const r of rows) {
  console.log(
    `${String(r.worker).padStart(6)}  ${r.pids.padEnd(6)}  ` +
      `${String(r.connections).padStart(4)} ${
        bar(r.connections, result.connections).padEnd(22)
      }` +
      `${String(r.requests).padStart(5)} ${bar(r.requests, result.requests)}`,
  );
}
for (const [error, count] of Object.entries(result.errors)) {
  console.log(`error: ${error} × ${count}`);
}
const idle = rows.filter((r) => r.requests === 0).map((r) => r.worker);
if (idle.length) console.log(`worker ${idle.join(", ")} served nothing`);
console.log(`\nthe runner stopped its workers in ${stopMs} ms`);
process.exitCode = result.failed === 0 && idle.length === 0 ? 0 : 1;
