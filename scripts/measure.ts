/**
 * `npm run measure`: how the strategies balance, in figures (timings, so a
 * command and not a test; the tests assert what does not depend on timing).
 *
 * 1. Fairness (1,000 connections to 4 listeners) and close under load (2
 *    listeners, one closed at 1 s of 2 s) for each strategy, on Deno and on Node 20
 *    (system), 22 and 24, with the same code as `tests/balancing_test.ts`.
 * 2. Scaling of the parallel runner: `examples/http_app.mjs` burning 1 ms of
 *    CPU per request, 2 workers against 1 in the same run, alternating
 *    rounds, load from `tools/load.mjs` in its own process; the ratio of
 *    req/s (target >= 1.6 on 2 cores). Processes on Node 20 and 24, threads
 *    (emulated, and with REUSEPORT_STRATEGY=kernel) on Node 24.
 * 3. Replacing workers under load: two rolling reloads (`kill -HUP`) of
 *    `reuseport serve --parallel=2` while 16 clients connect back to back,
 *    and a worker SIGKILLed under 16 keep-alive clients; per runner mode and
 *    strategy, MEASURE_ROUNDS rounds each. The kernel strategy's figures
 *    depend on `net.ipv4.tcp_migrate_req`, which is printed (and never
 *    changed here).
 *
 * Knobs: MEASURE_ROUNDS (3), MEASURE_SECONDS (2 per load), MEASURE_CONNECTIONS (16),
 * MEASURE_ONLY (`reload`: part 3 alone).
 *
 * Usage: `deno run -A scripts/measure.ts`
 *
 * @module
 */
import { execFile } from "node:child_process";
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import process from "node:process";
import {
  failures,
  killUnderLoad,
  measureStrategies,
  reloadUnderLoad,
  runLoad,
  type Runner,
  startRunner,
  type StrategyFigures,
} from "../tools/balancing.ts";
import { build } from "./build_npm.ts";
import { nodeBinary, ROOT } from "./runtimes.ts";

const ROUNDS = Number(process.env.MEASURE_ROUNDS ?? 3);
const SECONDS = Number(process.env.MEASURE_SECONDS ?? 2);
const CONNECTIONS = Number(process.env.MEASURE_CONNECTIONS ?? 16);
const BURN_MS = 1;
const TARGET = 1.6;

/** The strategy figures on a Node binary, from the compiled helpers. */
function strategiesOnNode(node: string): Promise<StrategyFigures[]> {
  const helpers = pathToFileURL(join(ROOT, "npm/esm/tools/balancing.js"));
  const source = `import { measureStrategies } from ${
    JSON.stringify(helpers.href)
  };
console.log(JSON.stringify(await measureStrategies()));`;
  return new Promise((resolve, reject) => {
    execFile(
      node,
      ["--input-type=module", "-e", source],
      { cwd: ROOT, timeout: 120_000 },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`${err.message}\n${stderr}`))
          : resolve(JSON.parse(stdout)),
    );
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Requests per second that `runner` answers under the standard load. */
async function rate(runner: Runner, seconds: number): Promise<number> {
  const result = await runLoad("node", {
    port: runner.port,
    connections: 0,
    requests: 0,
    concurrency: CONNECTIONS,
    seconds,
  });
  if (result.failed > 0) {
    throw new Error(
      `${result.failed} requests failed: ${JSON.stringify(result.errors)}`,
    );
  }
  return result.requests / result.seconds;
}

interface Scaling {
  label: string;
  one: number;
  two: number;
  ratio: number;
  ratios: number[];
}

/** 2 workers against 1, alternating rounds after a warm-up of each. */
async function scaling(
  label: string,
  node: string,
  mode: "threads" | "processes",
  env: Record<string, string> = {},
): Promise<Scaling> {
  const burn = { ...env, BURN_MS: String(BURN_MS) };
  const one = await startRunner(node, 1, mode, burn);
  const two = await startRunner(node, 2, mode, burn).catch(async (err) => {
    await one.stop();
    throw err;
  });
  try {
    await rate(one, 1);
    await rate(two, 1);
    const ones: number[] = [];
    const twos: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so that drift in the machine's load
      // falls on both.
      if (round % 2 === 0) {
        ones.push(await rate(one, SECONDS));
        twos.push(await rate(two, SECONDS));
      } else {
        twos.push(await rate(two, SECONDS));
        ones.push(await rate(one, SECONDS));
      }
    }
    const ratios = ones.map((o, i) => twos[i] / o);
    return {
      label,
      one: median(ones),
      two: median(twos),
      ratio: median(ratios),
      ratios,
    };
  } finally {
    await Promise.all([one.stop(), two.stop()]);
  }
}

/** Prints a table; the columns in `text` are left-aligned, the rest figures. */
function table(head: string[], rows: string[][], text: number[]): void {
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => r[i].length))
  );
  const line = (r: string[]) =>
    r.map((cell, i) =>
      text.includes(i) ? cell.padEnd(widths[i]) : cell.padStart(widths[i])
    ).join("  ").trimEnd();
  console.log(line(head));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const r of rows) console.log(line(r));
}

/** Part 3: reloads and a kill under load, per runner mode and strategy. */
async function replacing(node24: string): Promise<void> {
  let migrate = "n/a";
  try {
    migrate = Deno.readTextFileSync("/proc/sys/net/ipv4/tcp_migrate_req")
      .trim();
  } catch {
    // Not Linux.
  }
  const cases: [
    string,
    string,
    "threads" | "processes",
    Record<string, string>,
  ][] = [
    ["processes, emulated (default), Node 20", "node", "processes", {}],
    ["threads, emulated (default), Node 24", node24, "threads", {}],
    ["processes, kernel, Node 24", node24, "processes", {
      REUSEPORT_STRATEGY: "kernel",
    }],
  ];
  const reloadRows: string[][] = [];
  const killRows: string[][] = [];
  for (const [label, node, mode, env] of cases) {
    for (let round = 1; round <= ROUNDS; round++) {
      console.error(
        `measuring reloads and a kill: ${label}, round ${round}...`,
      );
      const { load, reloadMs } = await reloadUnderLoad(node, mode, env);
      const f = failures(load);
      reloadRows.push([
        label,
        `${round}`,
        `${load.requests}`,
        `${f.refused}`,
        `${f.reset}`,
        `${f.unanswered}`,
        `${f.other}`,
        reloadMs.join(" / "),
      ]);
      // A thread's "pid" is the runner's own: only processes can be killed.
      if (mode === "threads") continue;
      const kill = await killUnderLoad(node, env);
      killRows.push([
        label,
        `${round}`,
        `${kill.load.connections}`,
        `${kill.failed}`,
        `${kill.neverAnswered}`,
      ]);
    }
  }
  console.log(
    `\nTwo rolling reloads (SIGHUP) under 16 clients connecting back to back, one request each, 8 s (net.ipv4.tcp_migrate_req=${migrate})`,
  );
  table(
    [
      "runner",
      "round",
      "served",
      "refused",
      "reset",
      "unanswered",
      "other",
      "reload ms",
    ],
    reloadRows,
    [0],
  );
  console.log(
    "\nWorker 1 SIGKILLed at 1 s under 16 keep-alive clients (5 requests per connection), 3 s",
  );
  table(
    ["runner", "round", "connections", "failed", "of which never answered"],
    killRows,
    [0],
  );
}

if (import.meta.main) {
  if (!build()) Deno.exit(1);
  const node24 = await nodeBinary(24);
  if (process.env.MEASURE_ONLY === "reload") {
    await replacing(node24);
    Deno.exit(0);
  }
  const node22 = await nodeBinary(22);
  const runtimes: [string, () => Promise<StrategyFigures[]>][] = [
    [`Deno ${Deno.version.deno}`, () => measureStrategies()],
  ];
  for (const node of ["node", node22, node24]) {
    const version = await new Promise<string>((resolve) =>
      execFile(node, ["--version"], (_e, out) => resolve(out.trim()))
    );
    runtimes.push([`Node ${version}`, () => strategiesOnNode(node)]);
  }
  const measured: [string, StrategyFigures[]][] = [];
  for (const [name, measure] of runtimes) {
    console.error(`measuring strategies on ${name}...`);
    measured.push([name, await measure()]);
  }

  console.error("measuring scaling...");
  const system = runtimes[1][0].slice(5);
  const scalings = [
    await scaling(`processes, Node ${system}`, "node", "processes"),
    await scaling("processes, Node 24", node24, "processes"),
    await scaling("threads (emulated), Node 24", node24, "threads"),
    await scaling("threads (kernel), Node 24", node24, "threads", {
      REUSEPORT_STRATEGY: "kernel",
    }),
  ];

  console.log(
    "\nFairness: 1,000 connections, 50 at a time, to 4 idle listeners on one address",
  );
  const fairRows: string[][] = [];
  const closeRows: string[][] = [];
  for (const [name, rows] of measured) {
    for (const row of rows) {
      if (row.skipped) {
        fairRows.push([name, row.strategy, "n/a", "", ""]);
        closeRows.push([name, row.strategy, "n/a", "", "", "", ""]);
        continue;
      }
      const f = row.fairness!;
      const c = row.close!;
      fairRows.push([
        name,
        row.strategy,
        f.counts.join(" / "),
        `±${f.spreadPct.toFixed(1)} %`,
        `${f.exactlyOnce}`,
      ]);
      closeRows.push([
        name,
        row.strategy,
        `${c.attempts}`,
        `${c.served}`,
        `${c.refused}`,
        `${c.reset}`,
        `${c.afterClose}`,
      ]);
    }
  }
  table(
    ["runtime", "strategy", "per listener", "spread", "exactly once"],
    fairRows,
    [0, 1],
  );
  console.log(
    "\nClose under load: 2 listeners, a client connecting as fast as it can (16 at a time) for 2 s, one listener closed at 1 s",
  );
  table(
    [
      "runtime",
      "strategy",
      "attempts",
      "served",
      "refused",
      "reset",
      "served by the other after",
    ],
    closeRows,
    [0, 1],
  );
  const skipped = measured.flatMap(([name, rows]) =>
    rows.filter((r) => r.skipped).map((r) =>
      `${name}, ${r.strategy}: ${r.skipped}`
    )
  );
  for (const line of skipped) console.log(`n/a: ${line}`);

  console.log(
    `\nScaling: HTTP keep-alive, ${BURN_MS} ms CPU per request, ${CONNECTIONS} connections, ${SECONDS} s per load, ${ROUNDS} rounds; medians (target ratio >= ${TARGET})`,
  );
  table(
    ["runner", "1 worker req/s", "2 workers req/s", "ratio", "per round"],
    scalings.map((s) => [
      s.label,
      s.one.toFixed(0),
      s.two.toFixed(0),
      `${s.ratio.toFixed(2)}${s.ratio >= TARGET ? "" : " (below)"}`,
      s.ratios.map((r) => r.toFixed(2)).join(" "),
    ]),
    [0, 4],
  );
  await replacing(node24);
}
