/**
 * `npm run measure`: how the strategies balance, in figures (timings, so a
 * command and not a test; the tests assert what does not depend on timing),
 * on every runtime line of `scripts/runtimes.ts`.
 *
 * 1. Fairness (1,000 connections to 4 listeners) and close under load (2
 *    listeners, one closed at 1 s of 2 s) for each strategy, with the same
 *    code as `tests/balancing_test.ts`.
 * 2. Scaling of the parallel runner: `examples/http_app.mjs` burning 1 ms of
 *    CPU per request, 2 workers against 1 in the same run, alternating
 *    rounds, load from `tools/load.mjs` on the system's Node; the ratio of
 *    req/s (target >= 1.6 on 2 cores).
 * 3. Replacing workers under load: two rolling reloads (`kill -HUP`) of
 *    `reuseport serve --parallel=2` while 16 clients connect back to back,
 *    and (processes only) a worker SIGKILLed under 16 keep-alive clients;
 *    MEASURE_ROUNDS rounds each. The kernel strategy's figures depend on
 *    `net.ipv4.tcp_migrate_req`, which is printed (and never changed here).
 *
 * Parts 2 and 3 run the runner on each runtime in processes and in threads,
 * with its default strategy and with `REUSEPORT_STRATEGY=kernel`; a runner
 * that cannot run so (threads where sockets cannot move between threads,
 * the kernel strategy before Node 22.12) is a line `n/a` with its reason,
 * and a forced strategy that is the default anyway is not run twice.
 *
 * Knobs: MEASURE_RUNTIMES (`deno,20,22,24,26,bun`), MEASURE_ROUNDS (3),
 * MEASURE_SECONDS (2 per load), MEASURE_CONNECTIONS (16), MEASURE_ONLY
 * (`reload`: part 3 alone).
 *
 * Usage: `deno run -A scripts/measure.ts`
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import process from "node:process";
import {
  failures,
  killUnderLoad,
  LOAD_NODE,
  measureStrategies,
  reloadUnderLoad,
  runLoad,
  type Runner,
  startRunner,
  type StrategyFigures,
} from "../tools/balancing.ts";
import { build } from "./build_npm.ts";
import { table } from "./test.ts";
import {
  ROOT,
  run,
  type Runtime,
  runtimeBinary,
  runtimesFromEnv,
} from "./runtimes.ts";

const ROUNDS = Number(process.env.MEASURE_ROUNDS ?? 3);
const SECONDS = Number(process.env.MEASURE_SECONDS ?? 2);
const CONNECTIONS = Number(process.env.MEASURE_CONNECTIONS ?? 16);
const BURN_MS = 1;
const TARGET = 1.6;

/** A runtime to measure: its name with its version, and how to start it. */
interface Line {
  runtime: Runtime;
  /** `node 24.11.1`, `bun 1.4.5`. */
  label: string;
  /** The binary, with `run -A` for Deno. */
  command: string[];
}

/** The strategy figures on a runtime other than this Deno, from the compiled helpers. */
async function strategiesOn(line: Line): Promise<StrategyFigures[]> {
  const helpers = pathToFileURL(join(ROOT, "npm/esm/tools/balancing.js"));
  // A script both Node and Bun take from -e without a module flag.
  const source = `import(${JSON.stringify(helpers.href)})
  .then((m) => m.measureStrategies())
  .then((rows) => console.log(JSON.stringify(rows)));`;
  const [bin, ...flags] = line.command;
  return JSON.parse(
    await run(bin, [...flags, "-e", source], ROOT, 120_000),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Requests per second that `runner` answers under the standard load. */
async function rate(runner: Runner, seconds: number): Promise<number> {
  const result = await runLoad(LOAD_NODE, {
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

/** One way to run the runner: a runtime, a mode, a strategy. */
interface RunnerCase {
  line: Line;
  mode: "threads" | "processes";
  env: Record<string, string>;
  /** `node 24 threads, emulated`, with the strategy the runner reported. */
  label: string;
  /** Why it cannot run here (then it is not measured). */
  unavailable?: string;
}

/**
 * Every runtime's runner in processes and in threads, with its default
 * strategy and with the kernel one: each started once, to learn its
 * strategy or why it cannot run. A forced kernel strategy that was the
 * default anyway is left out.
 */
async function runnerCases(lines: Line[]): Promise<RunnerCase[]> {
  const cases: RunnerCase[] = [];
  for (const line of lines) {
    for (const mode of ["processes", "threads"] as const) {
      let defaultStrategy: string | undefined;
      for (const forced of [false, true]) {
        const env: Record<string, string> = forced
          ? { REUSEPORT_STRATEGY: "kernel" }
          : {};
        const asked = `${line.label} ${mode}${forced ? ", forced kernel" : ""}`;
        console.error(`starting the runner: ${asked}...`);
        try {
          const runner = await startRunner(line.command, 2, mode, env);
          await runner.stop();
          const strategy = /strategy (\w+)/.exec(runner.stderr())?.[1] ?? "?";
          if (forced && strategy === defaultStrategy) continue;
          if (!forced) defaultStrategy = strategy;
          cases.push({
            line,
            mode,
            env,
            label: `${line.label} ${mode}, ${strategy}${
              forced ? " (forced)" : ""
            }`,
          });
        } catch (err) {
          const message = (err as Error).message;
          const why = /^reuseport: (.*)$/m.exec(message)?.[1] ??
            message.split("\n")[0];
          cases.push({ line, mode, env, label: asked, unavailable: why });
        }
      }
    }
  }
  return cases;
}

interface Scaling {
  label: string;
  one: number;
  two: number;
  ratio: number;
  ratios: number[];
}

/** 2 workers against 1, alternating rounds after a warm-up of each. */
async function scaling(c: RunnerCase): Promise<Scaling> {
  const burn = { ...c.env, BURN_MS: String(BURN_MS) };
  const one = await startRunner(c.line.command, 1, c.mode, burn);
  const two = await startRunner(c.line.command, 2, c.mode, burn).catch(
    async (err) => {
      await one.stop();
      throw err;
    },
  );
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
      label: c.label,
      one: median(ones),
      two: median(twos),
      ratio: median(ratios),
      ratios,
    };
  } finally {
    await Promise.all([one.stop(), two.stop()]);
  }
}

/** The `n/a` lines of the cases that could not run. */
function notRun(cases: RunnerCase[]): void {
  for (const c of cases.filter((c) => c.unavailable)) {
    console.log(`n/a: ${c.label}: ${c.unavailable}`);
  }
}

/** Part 2: scaling, per runner case. */
async function scalings(cases: RunnerCase[]): Promise<void> {
  const rows: string[][] = [];
  for (const c of cases.filter((c) => !c.unavailable)) {
    console.error(`measuring scaling: ${c.label}...`);
    const s = await scaling(c);
    rows.push([
      s.label,
      s.one.toFixed(0),
      s.two.toFixed(0),
      `${s.ratio.toFixed(2)}${s.ratio >= TARGET ? "" : " (below)"}`,
      s.ratios.map((r) => r.toFixed(2)).join(" "),
    ]);
  }
  console.log(
    `\nScaling: HTTP keep-alive, ${BURN_MS} ms CPU per request, ${CONNECTIONS} connections, ${SECONDS} s per load, ${ROUNDS} rounds; medians (target ratio >= ${TARGET})`,
  );
  console.log(table(
    ["runner", "1 worker req/s", "2 workers req/s", "ratio", "per round"],
    rows,
    [0, 4],
  ));
  notRun(cases);
}

/** Part 3: reloads and a kill under load, per runner case. */
async function replacing(cases: RunnerCase[]): Promise<void> {
  let migrate = "n/a";
  try {
    migrate = Deno.readTextFileSync("/proc/sys/net/ipv4/tcp_migrate_req")
      .trim();
  } catch {
    // Not Linux.
  }
  const reloadRows: string[][] = [];
  const killRows: string[][] = [];
  for (const c of cases.filter((c) => !c.unavailable)) {
    for (let round = 1; round <= ROUNDS; round++) {
      console.error(
        `measuring reloads and a kill: ${c.label}, round ${round}...`,
      );
      const { load, reloadMs } = await reloadUnderLoad(
        c.line.command,
        c.mode,
        c.env,
      );
      const f = failures(load);
      reloadRows.push([
        c.label,
        `${round}`,
        `${load.requests}`,
        `${f.refused}`,
        `${f.reset}`,
        `${f.timedOut}`,
        `${f.other}`,
        reloadMs.join(" / "),
      ]);
      // A thread's "pid" is the runner's own: only processes can be killed.
      if (c.mode === "threads") continue;
      const kill = await killUnderLoad(c.line.command, c.env);
      killRows.push([
        c.label,
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
  console.log(table(
    [
      "runner",
      "round",
      "served",
      "refused",
      "reset",
      "timed out",
      "other",
      "reload ms",
    ],
    reloadRows,
    [0],
  ));
  console.log(
    "\nWorker 1 SIGKILLed at 1 s under 16 keep-alive clients (5 requests per connection), 3 s",
  );
  console.log(table(
    ["runner", "round", "connections", "failed", "of which never answered"],
    killRows,
    [0],
  ));
  notRun(cases);
}

/** Part 1: fairness and close under load, per runtime and strategy. */
async function strategies(lines: Line[]): Promise<void> {
  const measured: [string, StrategyFigures[]][] = [];
  for (const line of lines) {
    console.error(`measuring strategies on ${line.label}...`);
    measured.push([
      line.label,
      line.runtime === "deno"
        ? await measureStrategies()
        : await strategiesOn(line),
    ]);
  }
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
  console.log(
    "\nFairness: 1,000 connections, 50 at a time, to 4 idle listeners on one address",
  );
  console.log(table(
    ["runtime", "strategy", "per listener", "spread", "exactly once"],
    fairRows,
    [0, 1],
  ));
  console.log(
    "\nClose under load: 2 listeners, a client connecting as fast as it can (16 at a time) for 2 s, one listener closed at 1 s",
  );
  console.log(table(
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
  ));
  const skipped = measured.flatMap(([name, rows]) =>
    rows.filter((r) => r.skipped).map((r) =>
      `${name}, ${r.strategy}: ${r.skipped}`
    )
  );
  for (const line of skipped) console.log(`n/a: ${line}`);
}

/** The runtimes of MEASURE_RUNTIMES, with their versions. */
async function lines(): Promise<Line[]> {
  const out: Line[] = [];
  for (const runtime of runtimesFromEnv("MEASURE_RUNTIMES")) {
    const bin = await runtimeBinary(runtime);
    const version = runtime === "deno"
      ? Deno.version.deno
      : (await run(bin, ["--version"])).trim().replace(/^v/, "");
    out.push({
      runtime,
      label: `${typeof runtime === "number" ? "node" : runtime} ${version}`,
      command: runtime === "deno" ? [bin, "run", "-A"] : [bin],
    });
  }
  return out;
}

if (import.meta.main) {
  if (!build()) Deno.exit(1);
  const measuring = await lines();
  const reloadOnly = process.env.MEASURE_ONLY === "reload";
  if (!reloadOnly) await strategies(measuring);
  const cases = await runnerCases(measuring);
  if (!reloadOnly) await scalings(cases);
  await replacing(cases);
}
