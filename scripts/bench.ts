/**
 * `npm run bench`: a keep-alive HTTP/1.1 responder on this package against
 * the same responder on the runtime's own API, side by side in one run:
 * - on Node: ours vs raw `node:net` (target: ratio >= 0.9);
 * - on Deno: ours vs native `Deno.listen` (target: ratio >= 0.9).
 * Load comes from `wrk` when installed, else from `bench/load.mjs` in its own
 * process. Server and load are pinned to different cores where `taskset`
 * exists. Candidates alternate within each round; medians over the rounds.
 *
 * Knobs: BENCH_ROUNDS (5), BENCH_SECONDS (3), BENCH_CONNECTIONS (64).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import process from "node:process";

const DENO = "node_modules/.bin/deno";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const WARMUP_SECONDS = 1;

function has(command: string): boolean {
  try {
    execFileSync("which", [command], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const pin = has("taskset");
const wrk = has("wrk");

/** `command` pinned to `cpu` when `taskset` exists. */
function pinned(cpu: number, command: string[]): string[] {
  return pin ? ["taskset", "-c", String(cpu), ...command] : command;
}

interface Candidate {
  pair: string;
  label: string;
  server: string[];
}

const candidates: Candidate[] = [
  {
    pair: "Node",
    label: "ours on Node",
    server: ["node", "bench/server.mjs", "ours", "../npm/esm/mod.js"],
  },
  {
    pair: "Node",
    label: "raw node:net",
    server: ["node", "bench/server.mjs", "raw"],
  },
  {
    pair: "Deno",
    label: "ours on Deno",
    server: [DENO, "run", "-A", "bench/server.mjs", "ours", "../mod.ts"],
  },
  {
    pair: "Deno",
    label: "native Deno.listen",
    server: [DENO, "run", "-A", "bench/server.mjs", "native"],
  },
];

function startServer(command: string[]): Promise<[ChildProcess, number]> {
  const [cmd, ...args] = pinned(0, command);
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk) => {
      out += chunk;
      const line = out.split("\n")[0];
      if (out.includes("\n")) resolve([child, Number(line)]);
    });
    child.on("exit", (code) => reject(new Error(`server exited: ${code}`)));
  });
}

function run(command: string[]): Promise<string> {
  const [cmd, ...args] = pinned(1, command);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk) => out += chunk);
    child.on(
      "exit",
      (code) =>
        code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`)),
    );
  });
}

/** Requests per second against `port` for `seconds`. */
async function load(port: number, seconds: number): Promise<number> {
  if (wrk) {
    const out = await run([
      "wrk",
      "-t1",
      `-c${CONNECTIONS}`,
      `-d${seconds}s`,
      `http://127.0.0.1:${port}/`,
    ]);
    return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  }
  const out = await run([
    "node",
    "bench/load.mjs",
    String(port),
    String(CONNECTIONS),
    String(seconds * 1000),
  ]);
  const { requests, seconds: took } = JSON.parse(out);
  return requests / took;
}

async function measure(candidate: Candidate): Promise<number> {
  const [server, port] = await startServer(candidate.server);
  try {
    await load(port, WARMUP_SECONDS);
    return await load(port, SECONDS);
  } finally {
    server.kill("SIGKILL");
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

if (!existsSync("npm/esm/mod.js")) {
  execFileSync(DENO, ["run", "-A", "scripts/build_npm.ts", "--no-test"], {
    stdio: "inherit",
  });
}

console.log(
  `keep-alive HTTP/1.1, ${CONNECTIONS} connections, ${ROUNDS} rounds of ` +
    `${SECONDS}s, load from ${wrk ? "wrk" : "bench/load.mjs"}` +
    (pin ? ", server on cpu 0, load on cpu 1" : ""),
);
const samples = new Map<Candidate, number[]>(candidates.map((c) => [c, []]));
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order each round so that neither side always goes first.
  const order = round % 2 ? [...candidates].reverse() : candidates;
  for (const candidate of order) {
    const rps = await measure(candidate);
    samples.get(candidate)!.push(rps);
    console.log(
      `  round ${round + 1}: ${candidate.label}: ${rps.toFixed(0)} req/s`,
    );
  }
}

const results = [];
for (const pair of new Set(candidates.map((c) => c.pair))) {
  const [ours, peer] = candidates.filter((c) => c.pair === pair);
  const oursMedian = median(samples.get(ours)!);
  const peerMedian = median(samples.get(peer)!);
  const roundRatios = samples.get(ours)!.map((v, i) =>
    v / samples.get(peer)![i]
  );
  results.push({
    pair,
    ours: ours.label,
    peer: peer.label,
    oursMedian: Math.round(oursMedian),
    peerMedian: Math.round(peerMedian),
    ratioOfMedians: Number((oursMedian / peerMedian).toFixed(3)),
    medianOfRoundRatios: Number(median(roundRatios).toFixed(3)),
    target: 0.9,
  });
}

console.log(
  "\n| runtime | ours req/s | peer | peer req/s | ratio (median of rounds) |",
);
console.log("|---|---|---|---|---|");
for (const r of results) {
  console.log(
    `| ${r.pair} | ${r.oursMedian} | ${r.peer} | ${r.peerMedian} | ` +
      `${r.medianOfRoundRatios} ${
        r.medianOfRoundRatios >= r.target ? "(>= 0.9)" : "(below 0.9)"
      } |`,
  );
}
mkdirSync("bench/results", { recursive: true });
writeFileSync(
  "bench/results/latest.json",
  JSON.stringify(
    {
      date: new Date().toISOString(),
      rounds: ROUNDS,
      seconds: SECONDS,
      results,
    },
    null,
    2,
  ) + "\n",
);
console.log("\nwritten: bench/results/latest.json");
