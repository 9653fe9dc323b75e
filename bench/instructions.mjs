// Instructions per connection or per request of one bench/server.mjs server,
// counted by valgrind's callgrind: unlike request rates, the count does not
// depend on what else runs on the machine.
//
//   node bench/instructions.mjs <http|close|tls|tls-close|tls-resume|udp|udp-echo|echo> [--warm=N]
//        [--count=N] [--concurrency=N] -- <server command...>
//
// e.g. node bench/instructions.mjs http -- node bench/server.mjs raw http
//      node bench/instructions.mjs udp -- node bench/udp_server.mjs dgram count
//
// http and close count per request or connection, also over a Unix socket
// (a server that prints a path, not a port: bench/server.mjs --unix=<path>);
// tls and tls-close are http and close over TLS (a server given --cert and
// --key; the load does a full handshake per connection), tls-resume is
// tls-close with each connection resuming the last session (as wrk does);
// udp per datagram received from floods of tools/udp_load.mjs (the server
// answers bench/udp_server.mjs's `reset` and `stats`), udp-echo per datagram
// received and sent back (32 in flight), echo per MiB a bulk echo server
// sends back (one connection, tools/load.mjs --echo).
//
// The server runs under callgrind; tools/load.mjs warms it up (--warm units:
// requests for http, connections for close; JIT tiers settle), the counters
// are zeroed, --count more run, and the counters are dumped. Prints one JSON
// line: the whole process's instructions per unit (`perUnit`) and those of
// its main thread alone (`mainPerUnit`: without V8's compiler and GC helper
// threads). Needs `valgrind` (Debian's package).
import { execFile, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { parseArgs, promisify } from "node:util";

const SETTLE_MS = 300;
const LOAD = fileURLToPath(new URL("../tools/load.mjs", import.meta.url));
const UDP_LOAD = fileURLToPath(
  new URL("../tools/udp_load.mjs", import.meta.url),
);

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    warm: { type: "string" },
    count: { type: "string" },
    concurrency: { type: "string", default: "16" },
  },
});
const [workload, ...command] = positionals;
const WORKLOADS = [
  "http",
  "close",
  "tls",
  "tls-close",
  "tls-resume",
  "udp",
  "udp-echo",
  "echo",
];
const tls = workload.startsWith("tls");
const resume = workload === "tls-resume";
/** Connections of one request each, not keep-alive requests. */
const closing = workload.endsWith("close") || resume;
if (!WORKLOADS.includes(workload) || command.length === 0) {
  throw new TypeError(
    "usage: node bench/instructions.mjs <http|close|tls|tls-close|tls-resume|udp|udp-echo|echo> [--warm=N] [--count=N] " +
      "[--concurrency=N] -- <server command...>",
  );
}
const bulk = workload === "echo";
const warm = Number(values.warm ?? (bulk ? 64 : closing ? 5000 : 30000));
const count = Number(values.count ?? (bulk ? 64 : closing ? 3000 : 20000));
const concurrency = Number(values.concurrency);

const dir = mkdtempSync(join(tmpdir(), "reuseport-instructions-"));
const server = spawn("valgrind", [
  "--tool=callgrind",
  `--callgrind-out-file=${join(dir, "callgrind.%p")}`,
  ...command,
], { stdio: ["pipe", "pipe", "pipe"] });
let stderr = "";
server.stderr.on("data", (chunk) => stderr += chunk);
const lines = createInterface({ input: server.stdout });
const exited = new Promise((_, reject) =>
  server.once("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)))
);
// Its SIGKILL at the end is no failure.
exited.catch(() => {});
/** The server's next line of stdout. */
const nextLine = () =>
  Promise.race([new Promise((resolve) => lines.once("line", resolve)), exited]);
const first = await nextLine();
// A port, or the path of a Unix socket.
const target = Number(first) > 0 ? `--port=${first}` : `--unix=${first}`;

/** Sends the UDP server `command`; the datagrams it counted. */
async function ask(command) {
  server.stdin.write(`${command}\n`);
  return JSON.parse(await nextLine()).requests[0];
}

/**
 * `n` or more datagrams received (as the server counted them): echoes, or
 * floods until the receiver counted that many. Under callgrind the receiver is far slower than the
 * sender: most of a flood is dropped by the kernel, at no cost to it.
 */
async function udpLoad(n) {
  const run = (args) =>
    promisify(execFile)(process.execPath, [UDP_LOAD, target, ...args]);
  await ask("reset");
  // Echoes the client sent again after 200 ms count too: the server
  // received and answered them.
  if (workload === "udp-echo") await run(["--echo", `--replies=${n}`]);
  else while (await ask("stats") < n) await run([`--flood=${n}`]);
  return await ask("stats");
}

/**
 * `n` units of the workload, `concurrency` connections at a time: requests
 * over keep-alive connections, or connections of one request each; resolves
 * how many were done. Time limits are loose: the server runs some 50 times
 * slower under callgrind.
 */
async function load(n) {
  if (workload.startsWith("udp")) return await udpLoad(n);
  const shape = bulk
    ? [`--echo=${n * 1024 * 1024}`]
    : closing
    ? ["--close", `--connections=${n}`]
    : [
      `--connections=${concurrency}`,
      `--requests=${Math.ceil(n / concurrency)}`,
    ];
  const { stdout } = await promisify(execFile)(process.execPath, [
    LOAD,
    target,
    `--concurrency=${concurrency}`,
    "--seconds=3600",
    "--timeout=600000",
    ...(tls ? ["--tls"] : []),
    ...(resume ? ["--resume"] : []),
    ...shape,
  ]);
  const result = JSON.parse(stdout);
  if (bulk) return result.bytes / (1024 * 1024);
  if (result.failed) {
    throw new Error(`the load failed: ${JSON.stringify(result.errors)}`);
  }
  return result.requests;
}

const control = (flag) =>
  execFileSync("callgrind_control", [flag, String(server.pid)], {
    stdio: "ignore",
  });
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

let done;
try {
  await load(warm);
  await settle();
  control("-z");
  done = await load(count);
  await settle();
  control("-d");
} finally {
  server.kill("SIGKILL");
}
const dump = readdirSync(dir).filter((f) => /\.\d+$/.test(f)).sort().pop();
const file = join(dir, dump);
const total = Number(
  /^(?:totals|summary): (\d+)/m.exec(readFileSync(file, "utf8"))[1],
);
// Threads other than the main one start in pthread_create's start_thread.
const tree = execFileSync(
  "callgrind_annotate",
  ["--inclusive=yes", "--threshold=100", file],
  { encoding: "utf8", maxBuffer: 1 << 28 },
);
const others = Number(
  (/^\s*([\d,]+) \([^)]*\)\s+\S*pthread_create\.c:start_thread/m.exec(tree)
    ?.[1] ?? "0").replaceAll(",", ""),
);
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({
  workload,
  count: done,
  perUnit: Math.round(total / done),
  mainPerUnit: Math.round((total - others) / done),
}));
