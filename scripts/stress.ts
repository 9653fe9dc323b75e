/**
 * The reliability suite at full size (`npm run stress`): the
 * `tests/stress_*_test.ts` files with `STRESS_SCALE=1`, on Deno and, built by
 * `build_npm.ts`, on every Node line and Bun (`scripts/runtimes.ts`). The
 * same files run small inside `npm test`. Each test appends its figures
 * (value, limit, pass) to a report file; one table of all of them comes
 * last, and the exit code is 1 if any figure or any test failed.
 *
 * Environment:
 * - `STRESS_SCALE`    fraction of the full sizes (default `1`)
 * - `STRESS_RUNTIMES` which runtimes, comma-separated (default
 *                     `deno,20,22,24,26,bun`; numbers are Node major lines)
 *
 * Usage: `deno run -A scripts/stress.ts`
 *
 * @module
 */

import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { build, compiledTestFiles } from "./build_npm.ts";
import {
  ROOT,
  type Runtime,
  runtimeBinary,
  runtimeName,
  runtimesFromEnv,
} from "./runtimes.ts";
import {
  compiledSuite,
  type Counts,
  denoCounts,
  header,
  shown,
  table,
} from "./test.ts";

const DENO = Deno.execPath();
const STRESS_FILE = /^stress_.*_test\.(ts|js)$/;
/** A whole runtime's run may take this long before it is stopped. */
const RUN_TIMEOUT_MS = 30 * 60 * 1000;

interface Figure {
  runtime: string;
  test: string;
  figure: string;
  value: string;
  limit: string;
  pass: boolean;
}

interface RuntimeRun {
  /** `deno`, `node 22`, `bun`: what was asked for. */
  name: string;
  code: number;
  counts?: Counts;
  note?: string;
  figures: Figure[];
}

/** The stress test files under `dir`, relative to the repo root. */
function stressFiles(dir: string): string[] {
  const full = join(ROOT, dir);
  if (!existsSync(full)) return [];
  return [...Deno.readDirSync(full)]
    .filter((e) => e.isFile && STRESS_FILE.test(e.name))
    .map((e) => join(dir, e.name))
    .sort();
}

/** Runs one runtime's suite; its figures land in `report`. */
async function runSuite(
  name: string,
  cmd: string,
  args: string[],
  report: string,
  parse: (output: string) => Counts | undefined,
): Promise<RuntimeRun> {
  header(name);
  const { code, signal, output } = await shown(cmd, args, {
    STRESS_SCALE: Deno.env.get("STRESS_SCALE") ?? "1",
    STRESS_REPORT: report,
  }, RUN_TIMEOUT_MS);
  const figures = existsSync(report)
    ? readFileSync(report, "utf8").split("\n").filter(Boolean).map((line) =>
      JSON.parse(line) as Figure
    )
    : [];
  return {
    name,
    code,
    counts: parse(output),
    note: signal ? `killed (${signal})` : undefined,
    figures,
  };
}

/**
 * One table of every figure: a row per test and figure, a column per
 * runtime, a failed value marked `✗`. A row passes when every runtime that
 * measured it passed; the first row is each runtime's test runner.
 */
function summary(runs: RuntimeRun[]): boolean {
  const labels = runs.map((r) => r.figures[0]?.runtime ?? r.name);
  interface Row {
    test: string;
    figure: string;
    limits: Set<string>;
    cells: string[];
    failedIn: string[];
  }
  const rows = new Map<string, Row>();
  const row = (test: string, figure: string): Row => {
    const key = `${test}\u0000${figure}`;
    let r = rows.get(key);
    if (!r) {
      r = {
        test,
        figure,
        limits: new Set(),
        cells: runs.map(() => "-"),
        failedIn: [],
      };
      rows.set(key, r);
    }
    return r;
  };
  runs.forEach((run, i) => {
    const runner = row("(runner)", "tests passed / failed");
    runner.limits.add("all pass");
    const failedTests = run.counts?.failed ?? 0;
    const runnerOk = run.code === 0 && failedTests === 0 && !run.note;
    runner.cells[i] = (run.counts
      ? `${run.counts.passed} / ${run.counts.failed}`
      : `exit ${run.code}`) + (run.note ? ` (${run.note})` : "");
    if (!runnerOk) {
      runner.cells[i] = `✗ ${runner.cells[i]}`;
      runner.failedIn.push(labels[i]);
    }
    for (const f of run.figures) {
      const r = row(f.test, f.figure);
      r.limits.add(f.limit);
      r.cells[i] = f.pass ? f.value : `✗ ${f.value}`;
      if (!f.pass) {
        r.failedIn.push(labels[i]);
      }
    }
  });
  // Tests in name order, so that a test's variants (one per strategy) sit
  // together; figures in the order the test recorded them.
  const order = [...rows.values()];
  const sorted = order.toSorted((a, b) =>
    (a.test === "(runner)" ? -1 : b.test === "(runner)" ? 1 : 0) ||
    a.test.localeCompare(b.test) || order.indexOf(a) - order.indexOf(b)
  );
  const lines = sorted.map((r) => [
    r.test,
    r.figure,
    [...r.limits].join(" | "),
    ...r.cells,
    r.failedIn.length ? `FAIL (${r.failedIn.join(", ")})` : "pass",
  ]);
  header("stress summary");
  console.log(
    `STRESS_SCALE=${Deno.env.get("STRESS_SCALE") ?? "1"}, ` +
      `ulimit -n ${fdLimit()}, ${new Date().toISOString()}\n`,
  );
  console.log(
    table(["test", "figure", "limit", ...labels, "result"], lines),
  );
  const failed = lines.filter((l) => l.at(-1) !== "pass").length;
  console.log(`\n${lines.length - failed} rows passed, ${failed} failed`);
  return failed === 0;
}

/** The soft limit on open files, which every child inherits. */
function fdLimit(): string {
  if (!existsSync("/proc/self/limits")) return "unknown";
  const line = readFileSync("/proc/self/limits", "utf8").split("\n")
    .find((l) => l.startsWith("Max open files"));
  return line?.split(/\s{2,}/)[1] ?? "unknown";
}

/** Runs the stress files on one runtime: Deno from source, the others from the build. */
async function runOn(runtime: Runtime, report: string): Promise<RuntimeRun> {
  const name = runtimeName(runtime);
  if (runtime === "deno") {
    return await runSuite(
      name,
      DENO,
      ["test", "-A", ...stressFiles("tests")],
      report,
      denoCounts,
    );
  }
  const suite = compiledSuite(
    runtime,
    compiledTestFiles().filter((f) => STRESS_FILE.test(basename(f))),
    true,
  );
  if (!suite) return { name, code: 1, note: "no stress files", figures: [] };
  let bin: string;
  try {
    bin = await runtimeBinary(runtime);
  } catch (err) {
    return {
      name,
      code: 1,
      note: `no binary: ${(err as Error).message}`,
      figures: [],
    };
  }
  return await runSuite(name, bin, suite.args, report, suite.counts);
}

async function main(): Promise<number> {
  const runtimes = runtimesFromEnv("STRESS_RUNTIMES");
  const limit = fdLimit();
  console.log(`ulimit -n: ${limit}`);
  if (Number(limit) < 12_000) {
    console.log(
      "  below 12,000: the tests that hold thousands of connections run " +
        "fewer (they say so in their names); raise it with 'ulimit -n 20000'",
    );
  }
  let built = true;
  if (runtimes.some((r) => r !== "deno")) {
    header("build_npm");
    built = build();
  }
  const tmp = await Deno.makeTempDir({ prefix: "reuseport-stress-" });
  const runs: RuntimeRun[] = [];
  try {
    for (const runtime of runtimes) {
      runs.push(
        runtime === "deno" || built
          ? await runOn(runtime, join(tmp, `${runtime}.jsonl`))
          : {
            name: runtimeName(runtime),
            code: 1,
            note: "npm build failed",
            figures: [],
          },
      );
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  return summary(runs) ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main());
}
