/**
 * The whole test run (`npm test`): format, lint, type check, the JSR checks
 * (doc lint, an `@example` on every export, publish dry run), the suite on
 * Deno, the doc examples, the npm build with the suite on the system Node,
 * two stand-in hosts behind HAProxy (`scripts/hosts_test.ts`), the packed
 * tarball installed and used on every Node line and on Bun, then the suite on
 * the other Node lines and on Bun (fetched into `.cache/bun/`). Every step
 * runs even when an earlier one failed; a summary and a closing
 * `N passed, N failed` line come last.
 *
 * Environment:
 * - `NODE_MAJORS`   Node lines to test the build on besides the system's
 *                   (default: the others of `scripts/runtimes.ts`; empty for
 *                   none)
 * - `RUN_DOC_TESTS` `0` skips `deno test --doc`
 *
 * Usage: `deno run -A scripts/test.ts`
 *
 * @module
 */

import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { compiledTestFiles, libraryFiles } from "./build_npm.ts";
import { exportedModules } from "./doc_check.ts";
import {
  NODE_LINES,
  ROOT,
  runtimeBinary,
  runtimeName,
  runtimesFromEnv,
  systemNodeMajor,
} from "./runtimes.ts";

/** Tests passed, failed and skipped, as a runner reported them. */
export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

interface StepResult {
  name: string;
  status: "pass" | "FAIL" | "skip";
  counts?: Counts;
  note?: string;
  seconds: number;
}

const DENO = Deno.execPath();
const results: StepResult[] = [];
const encoder = new TextEncoder();
const colorOut = Deno.stdout.isTerminal();

// Children write into pipes, so they'd drop (Node) or keep (Deno) colors on
// their own; make them agree with our terminal instead.
const childEnv: Record<string, string> = colorOut
  ? { FORCE_COLOR: "1" }
  : { NO_COLOR: "1" };

interface Writer {
  write(p: Uint8Array): Promise<number>;
}

async function writeAll(w: Writer, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await w.write(bytes.subarray(off));
}

/** Copies a child's stream to ours as it comes, and keeps the text. */
async function tee(
  stream: ReadableStream<Uint8Array>,
  to: Writer,
): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    await writeAll(to, chunk);
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}

/** A step's heading line. */
export function header(title: string): void {
  const line = "=".repeat(Math.max(8, 72 - title.length - 4));
  console.log(`\n== ${title} ${line}`);
}

/**
 * Runs one command from the repo root, its output shown as it comes, with
 * `env` added to the environment; killed after `timeoutMs`. Resolves its exit
 * code, the signal that ended it if one did, and its output.
 */
export async function shown(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs?: number,
): Promise<{ code: number; signal: string | null; output: string }> {
  console.log(`$ ${cmd === DENO ? "deno" : cmd} ${args.join(" ")}`);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      cwd: ROOT,
      env: { ...childEnv, ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    const msg = `could not start ${cmd}: ${(e as Error).message}`;
    console.error(msg);
    return { code: 127, signal: null, output: msg };
  }
  const timer = timeoutMs === undefined
    ? undefined
    : setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [out, err, status] = await Promise.all([
    tee(child.stdout, Deno.stdout),
    tee(child.stderr, Deno.stderr),
    child.status,
  ]);
  clearTimeout(timer);
  return { code: status.code, signal: status.signal, output: out + "\n" + err };
}

function stripAnsi(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

/** Totals from `scripts/pack_test.ts` (`pack_test: N passed, N failed`). */
function packCounts(output: string): Counts | undefined {
  const m = /^pack_test: (\d+) passed, (\d+) failed$/m.exec(stripAnsi(output));
  return m
    ? { passed: Number(m[1]), failed: Number(m[2]), skipped: 0 }
    : undefined;
}

/** Totals from `scripts/real.ts` (`real: N passed, N failed`). */
function realCounts(output: string): Counts | undefined {
  const m = /^real: (\d+) passed, (\d+) failed\b/m.exec(stripAnsi(output));
  return m
    ? { passed: Number(m[1]), failed: Number(m[2]), skipped: 0 }
    : undefined;
}

/** Totals from Node's spec reporter (`ℹ pass N`); last summary wins. */
function nodeCounts(output: string): Counts | undefined {
  const text = stripAnsi(output);
  const last = (key: string): number | undefined => {
    const all = [...text.matchAll(new RegExp(`^ℹ ${key} (\\d+)`, "gm"))];
    return all.length ? Number(all[all.length - 1][1]) : undefined;
  };
  const passed = last("pass");
  const failed = last("fail");
  if (passed === undefined || failed === undefined) return undefined;
  return {
    passed,
    // Node fails the run for cancelled tests (timeouts, crashed files) too.
    failed: failed + (last("cancelled") ?? 0),
    skipped: (last("skipped") ?? 0) + (last("todo") ?? 0),
  };
}

/** Totals from `bun test` (` 12 pass`, ` 1 fail`, ` 2 skip`, ` 0 todo`). */
function bunCounts(output: string): Counts | undefined {
  const text = stripAnsi(output);
  const count = (key: string): number | undefined => {
    const m = new RegExp(`^\\s*(\\d+) ${key}$`, "m").exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const passed = count("pass");
  if (passed === undefined) return undefined;
  return {
    passed,
    failed: count("fail") ?? 0,
    skipped: (count("skip") ?? 0) + (count("todo") ?? 0),
  };
}

/**
 * Totals from `deno test`. Deno counts a test with steps (a `describe`, a
 * `t.test` parent) as one more test; Node counts only the leaves, so leaves
 * are counted here from the per-test lines, with the closing line
 * (`ok | 3 passed (4 steps) | 1 failed (2s)`) as a floor for failures that
 * have no line of their own (a module that fails to load).
 */
export function denoCounts(output: string): Counts | undefined {
  const lines = stripAnsi(output).split("\n");
  const closing = lines.findLast((l) => /^(ok|FAILED) \| \d+ passed/.test(l));
  if (!closing) return undefined;
  const total = (key: string): number =>
    Number(new RegExp(`(\\d+) ${key}`).exec(closing)?.[1] ?? 0);

  const counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  // Tests opened on a line of their own, as indent + name: parents whose
  // steps follow, or tests whose output (`post-test output`) follows. Only
  // those with a step under them are parents.
  const open: { key: string; steps: boolean }[] = [];
  let leaves = 0;
  for (const line of lines) {
    const start = /^(\s*)(.+) \.\.\.$/.exec(line);
    const done = /^(\s*)(.+) \.\.\. (ok|FAILED|ignored)\b/.exec(line);
    if (!start && !done) continue;
    const key = start ? start[1] + start[2] : done![1] + done![2];
    const top = open.at(-1);
    if (top && top.key !== key) top.steps = true;
    if (start) {
      open.push({ key, steps: false });
      continue;
    }
    if (top?.key === key) {
      open.pop();
      if (top.steps) continue;
    }
    leaves++;
    const result = done![3];
    if (result === "ok") counts.passed++;
    else if (result === "FAILED") counts.failed++;
    else counts.skipped++;
  }
  if (!leaves) {
    return {
      passed: total("passed"),
      failed: total("failed"),
      skipped: total("ignored"),
    };
  }
  counts.failed = Math.max(counts.failed, total("failed"));
  return counts;
}

/**
 * How Node (a major line) or Bun runs compiled test files, from the repo
 * root, and how to read its totals; undefined when there are none. Node gets
 * the files one by one (Node 22+ takes a directory for a glob that matches no
 * test file); `serial` runs one file at a time. Bun's `bun test` runs
 * node:test files, all in one process: `--isolate` gives each file a fresh
 * global, as its own process does under `node --test` (the polyfill's global
 * `Deno` must not leak into the next file), and Bun's default of 5 s a test
 * is too short for the runner and stress tests.
 */
export function compiledSuite(
  runtime: "bun" | number,
  files: string[],
  serial = false,
):
  | { args: string[]; counts: (output: string) => Counts | undefined }
  | undefined {
  if (!files.length) return undefined;
  const paths = files.map((f) => `./${relative(ROOT, f)}`);
  return runtime === "bun"
    ? {
      args: ["test", "--isolate", "--timeout=120000", ...paths],
      counts: bunCounts,
    }
    : {
      args: [
        "--test",
        "--test-reporter=spec",
        ...(serial ? ["--test-concurrency=1"] : []),
        ...paths,
      ],
      counts: nodeCounts,
    };
}

/**
 * Runs one step and records its result. `problem` may fail a step that
 * exited 0, by returning what is wrong with its output.
 */
async function step(
  name: string,
  cmd: string,
  args: string[],
  parse?: (output: string) => Counts | undefined,
  problem?: (output: string) => string | undefined,
): Promise<StepResult> {
  header(name);
  const started = performance.now();
  const { code, output } = await shown(cmd, args);
  const found = code === 0 ? problem?.(stripAnsi(output)) : undefined;
  const result: StepResult = {
    name,
    status: code === 0 && !found ? "pass" : "FAIL",
    counts: parse?.(output),
    seconds: (performance.now() - started) / 1000,
  };
  if (code !== 0) result.note = `exit ${code}`;
  else if (found) result.note = found;
  results.push(result);
  return result;
}

function skip(name: string, note: string): void {
  header(name);
  console.log(`skipped: ${note}`);
  results.push({ name, status: "skip", note, seconds: 0 });
}

function existing(...paths: string[]): string[] {
  return paths.filter((p) => existsSync(join(ROOT, p)));
}

/**
 * Aligned columns: the head, a rule, the rows. The columns in `text` are
 * left-aligned and the others, figures, right-aligned; without `text`, all
 * are left-aligned.
 */
export function table(
  head: string[],
  rows: string[][],
  text?: number[],
): string {
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => r[i].length))
  );
  const line = (r: string[]) =>
    r.map((cell, i) =>
      !text || text.includes(i)
        ? cell.padEnd(widths[i])
        : cell.padStart(widths[i])
    ).join("  ").trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)]
    .join("\n");
}

function summary(): { passed: number; failed: number } {
  let passed = 0;
  let failed = 0;
  const rows = results.map((r) => {
    const c = r.counts;
    passed += c?.passed ?? 0;
    failed += c?.failed ?? 0;
    // A failed step whose runner reported no failing test (a lint error, a
    // build error, a crash) still counts as one failure.
    if (r.status === "FAIL" && !c?.failed) failed += 1;
    return [
      r.name,
      r.status,
      c ? String(c.passed) : "-",
      c ? String(c.failed) : "-",
      c ? String(c.skipped) : "-",
      r.status === "skip" ? "-" : `${r.seconds.toFixed(1)}s`,
      r.note ?? "",
    ];
  });
  header("summary");
  console.log(table(
    ["step", "result", "passed", "failed", "skipped", "time", "note"],
    rows,
    [0, 1, 6],
  ));
  return { passed, failed };
}

async function main(): Promise<number> {
  await step("deno fmt --check", DENO, ["fmt", "--check"]);
  await step("deno lint", DENO, ["lint"]);

  const checkTargets = [
    ...existing(
      "mod.ts",
      "ops/mod.ts",
      "polyfill.ts",
      "bin.ts",
      "tests",
      // Not demo.mjs and http_app.mjs: they run on Node against the npm
      // build, which does not exist before the build step (on a clean clone).
      "examples/echo_deno.ts",
      "examples/echo_node.mjs",
    ),
    "scripts",
    "bench",
  ];
  await step("deno check", DENO, ["check", ...checkTargets]);

  if (existsSync(join(ROOT, "tests"))) {
    // bench/ holds the benchmark's report tests; the bench runs on Deno only.
    await step("deno test", DENO, [
      "test",
      "-A",
      "tests/",
      ...existing("bench"),
    ], denoCounts);
  } else {
    // No suite at all is a failure, not an empty pass.
    header("deno test");
    console.error("no tests/ folder");
    results.push({
      name: "deno test",
      status: "FAIL",
      note: "no tests/ folder",
      seconds: 0,
    });
  }

  const modules = exportedModules();
  await step("deno doc --lint", DENO, ["doc", "--lint", ...modules]);
  await step("doc examples", DENO, [
    "run",
    "-A",
    join("scripts", "doc_check.ts"),
    ...modules,
  ]);
  // Warnings (an unsupported file, a file that should be excluded) are
  // problems too: JSR would publish with them.
  await step(
    "deno publish --dry-run",
    DENO,
    ["publish", "--dry-run", "--allow-dirty"],
    undefined,
    (output) => /^(warning|error)\[/m.test(output) ? "warnings" : undefined,
  );

  if (Deno.env.get("RUN_DOC_TESTS") === "0") {
    skip("deno test --doc", "RUN_DOC_TESTS=0");
  } else if (existsSync(join(ROOT, "mod.ts"))) {
    await step(
      "deno test --doc",
      DENO,
      // Every library file: examples live where the symbols are declared.
      // Not bin.ts (the command: it runs, and exits, when imported) nor the
      // runner's worker preload (it makes the process a runner worker).
      [
        "test",
        "-A",
        "--doc",
        ...libraryFiles().map((f) => relative(ROOT, f)).filter((f) =>
          f !== "bin.ts" && f !== join("runner", "worker_preload.ts")
        ),
      ],
      denoCounts,
    );
  } else {
    skip("deno test --doc", "no mod.ts");
  }

  const sysMajor = await systemNodeMajor();
  await step(
    `build_npm + node ${sysMajor ?? "?"}`,
    DENO,
    ["run", "-A", join("scripts", "build_npm.ts")],
    nodeCounts,
  );
  // build_npm writes npm/package.json last, only when compilation succeeded.
  const built = existsSync(join(ROOT, "npm", "package.json"));

  // Two stand-in hosts behind HAProxy; the test skips, saying why, where it
  // cannot run (not root, no `ip netns`, no haproxy).
  const hosts = "hosts: HAProxy + 2 namespaces";
  if (built) {
    await step(
      hosts,
      DENO,
      ["test", "-A", "scripts/hosts_test.ts"],
      denoCounts,
    );
  } else skip(hosts, "npm build failed");

  // Real servers (PostgreSQL, Redis, NATS, MariaDB) and the clients of tests/real/ on
  // Deno, Node and Bun (`scripts/real.ts`: it says what is missing, if any).
  const real = "real servers: clients × runtimes";
  if (built) {
    await step(real, DENO, ["run", "-A", "scripts/real.ts"], realCounts);
  } else skip(real, "npm build failed");

  const majors = runtimesFromEnv("NODE_MAJORS", NODE_LINES)
    .filter((m): m is number => typeof m === "number" && m !== sysMajor);

  // The package as users install it, on every Node line tested and on Bun.
  const packLines = [...(sysMajor ? [sysMajor] : []), ...majors, "bun"];
  if (built) {
    await step(
      "npm pack + install",
      DENO,
      ["run", "-A", join("scripts", "pack_test.ts"), ...packLines.map(String)],
      packCounts,
    );
  } else skip("npm pack + install", "npm build failed");
  // The same compiled suite on the other Node lines and on Bun.
  for (const runtime of [...majors, "bun" as const]) {
    const name = runtimeName(runtime);
    if (!built) {
      skip(name, "npm build failed");
      continue;
    }
    const suite = compiledSuite(runtime, compiledTestFiles());
    if (!suite) {
      skip(name, "no compiled test files");
      continue;
    }
    let bin: string;
    try {
      bin = await runtimeBinary(runtime);
    } catch (e) {
      header(name);
      console.error((e as Error).message);
      results.push({ name, status: "FAIL", note: "no binary", seconds: 0 });
      continue;
    }
    await step(name, bin, suite.args, suite.counts);
  }

  const { passed, failed } = summary();
  const anyFailed = results.some((r) => r.status === "FAIL");
  console.log("");
  // The last line is read by CI: keep it exactly this shape.
  await writeAll(
    Deno.stdout,
    encoder.encode(`${passed} passed, ${failed} failed\n`),
  );
  return anyFailed || failed > 0 ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
