// Instructions per connection or per request of one bench/server.mjs server,
// counted by valgrind's callgrind: unlike request rates, the count does not
// depend on what else runs on the machine.
//
//   node bench/instructions.mjs <http|close> [--warm=N] [--count=N]
//        [--concurrency=N] -- <server command...>
//
// e.g. node bench/instructions.mjs http -- node bench/server.mjs raw http
//
// The server runs under callgrind; a node:net client here warms it up
// (--warm units: requests for http, connections for close; JIT tiers settle),
// zeroes the counters, runs --count more, and dumps them. Prints one JSON
// line: the whole process's instructions per unit (`perUnit`) and those of
// its main thread alone (`mainPerUnit`: without V8's compiler and GC helper
// threads). Needs `valgrind` (Debian's package).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const HOST = "127.0.0.1";
const SETTLE_MS = 300;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    warm: { type: "string" },
    count: { type: "string" },
    concurrency: { type: "string", default: "16" },
  },
});
const [workload, ...command] = positionals;
if (!["http", "close"].includes(workload) || command.length === 0) {
  throw new TypeError(
    "usage: node bench/instructions.mjs <http|close> [--warm=N] [--count=N] " +
      "[--concurrency=N] -- <server command...>",
  );
}
const warm = Number(values.warm ?? (workload === "close" ? 5000 : 30000));
const count = Number(values.count ?? (workload === "close" ? 3000 : 20000));
const concurrency = Number(values.concurrency);

const dir = mkdtempSync(join(tmpdir(), "reuseport-instructions-"));
const server = spawn("valgrind", [
  "--tool=callgrind",
  `--callgrind-out-file=${join(dir, "callgrind.%p")}`,
  ...command,
], { stdio: ["pipe", "pipe", "pipe"] });
let stderr = "";
server.stderr.on("data", (chunk) => stderr += chunk);
const port = await new Promise((resolve, reject) => {
  createInterface({ input: server.stdout }).once(
    "line",
    (line) => resolve(Number(line)),
  );
  server.once("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)));
});

const request = (close) =>
  `GET / HTTP/1.1\r\nHost: ${HOST}\r\n` +
  (close ? "Connection: close\r\n" : "") + "\r\n";

/** One connection, one request, read to the end. */
function oneShot() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    let bytes = 0;
    socket.on("data", (chunk) => bytes += chunk.length);
    socket.on("error", reject);
    socket.on(
      "close",
      () => bytes ? resolve() : reject(new Error("no answer")),
    );
    socket.write(request(true));
  });
}

/** `n` connections, `concurrency` at a time. */
async function connections(n) {
  let left = n;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (left-- > 0) await oneShot();
  }));
}

let sockets;
/** `n` keep-alive requests over `concurrency` connections, one at a time each. */
async function requests(n) {
  sockets ??= Array.from({ length: concurrency }, () => {
    const socket = net.connect(port, HOST);
    socket.setNoDelay(true);
    return socket;
  });
  let left = n;
  await Promise.all(sockets.map((socket) =>
    new Promise((resolve, reject) => {
      let size = 0;
      let seen = 0;
      let head = "";
      const next = () => {
        if (left-- <= 0) {
          socket.off("data", onData);
          return resolve();
        }
        socket.write(request(false));
      };
      const onData = (chunk) => {
        seen += chunk.length;
        if (!size) {
          head += chunk.toString("latin1");
          const end = head.indexOf("\r\n\r\n");
          if (end < 0) return;
          size = end + 4 + Number(/Content-Length: (\d+)/i.exec(head)[1]);
        }
        while (seen >= size) {
          seen -= size;
          next();
        }
      };
      socket.on("data", onData);
      socket.once("error", reject);
      next();
    })
  ));
}

const load = workload === "close" ? connections : requests;
const control = (flag) =>
  execFileSync("callgrind_control", [flag, String(server.pid)], {
    stdio: "ignore",
  });
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

try {
  await load(warm);
  await settle();
  control("-z");
  await load(count);
  await settle();
  control("-d");
} finally {
  for (const socket of sockets ?? []) socket.destroy();
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
  count,
  perUnit: Math.round(total / count),
  mainPerUnit: Math.round((total - others) / count),
}));
