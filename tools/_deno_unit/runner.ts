/**
 * A `Deno.test` for Node and Bun, so that a unit test file of Deno's runs
 * there through this package's polyfill: `main([polyfill, test file,
 * filter])` (the entry `tools/deno_unit_suite.ts` writes calls it) imports
 * the polyfill, adds `Deno.test` and `Deno.build` (the test harness's part of
 * Deno, which the polyfill does not provide), imports the test file, runs its
 * tests one at a time (`runCases`) and prints one line per test, then
 * `SUMMARY <json>`, which the suite reads. There is no
 * permission sandbox: a test's `permissions` are ignored. As in Deno's
 * runner, an error that reaches `uncaughtException` or `unhandledRejection`
 * during a test fails that test, and so does a resource it leaves open (our
 * rids, from the `ops` module beside the polyfill); those are closed then, so
 * that one failure does not hold a port the next tests need.
 *
 * @module
 */
import process from "node:process";
import { pathToFileURL } from "node:url";

/** A registered test. */
export interface Case {
  name: string;
  fn: () => unknown;
  ignore: boolean;
  only: boolean;
}

/** What a run found; printed as `SUMMARY <json>`. */
export interface Summary {
  passed: string[];
  failed: { name: string; error: string }[];
  ignored: string[];
  /** Tests never reached: the process exited in an earlier one. */
  notRun?: number;
}

type Options = {
  name?: string;
  fn?: () => unknown;
  ignore?: boolean;
  only?: boolean;
};

/**
 * Reads every `Deno.test` call shape into a `Case`: `(fn)`, `(name, fn)`,
 * `(options, fn)`, `({ name, fn, … })`, `(name, options, fn)`.
 */
export function toCase(a: unknown, b?: unknown, c?: unknown): Case {
  let options: Options = {};
  let fn: (() => unknown) | undefined;
  let name: string | undefined;
  if (typeof a === "string") {
    name = a;
    if (typeof b === "function") fn = b as () => unknown;
    else {
      options = (b ?? {}) as Options;
      fn = c as () => unknown;
    }
  } else if (typeof a === "function") fn = a as () => unknown;
  else {
    options = (a ?? {}) as Options;
    fn = (typeof b === "function" ? b : options.fn) as () => unknown;
  }
  if (typeof fn !== "function") throw new TypeError("Missing test function");
  return {
    name: name ?? options.name ?? fn.name,
    fn,
    ignore: options.ignore === true,
    only: options.only === true,
  };
}

/** The OS as `Deno.build.os` names it. */
function osName(): string {
  const p = process.platform;
  return p === "win32" ? "windows" : p;
}

const TIMEOUT_MS = 30_000;

/** What the runner uses of `@reuseport/net/ops`. */
export interface Ops {
  resources(): Record<number, string>;
  tryClose(rid: number): void;
}

/**
 * Deno's resource sanitizer, on our rids: what `before` did not have and is
 * still open once pending closes ran (up to 500 ms) is closed and named.
 */
async function leftOpen(ops: Ops, before: Set<string>): Promise<string> {
  const deadline = Date.now() + 500;
  let left: [string, string][] = [];
  do {
    left = Object.entries(ops.resources()).filter(([rid]) => !before.has(rid));
    if (left.length === 0) return "";
    await new Promise((resolve) => setTimeout(resolve, 10));
  } while (Date.now() < deadline);
  for (const [rid] of left) ops.tryClose(Number(rid));
  return `leaks resources: ${
    left.map(([rid, name]) => `${rid} (${name})`).join(", ")
  }`;
}

/**
 * Runs `test.fn`: null if it passed, else why not (a time-out, an error that
 * escaped it meanwhile, a resource left open).
 */
async function runCase(test: Case, ops: Ops): Promise<string | null> {
  const before = new Set(Object.keys(ops.resources()));
  const failure = await settle(test);
  const leaks = await leftOpen(ops, before);
  return failure ?? (leaks || null);
}

/** Runs `test.fn`, failing on a time-out or an error that escapes it meanwhile. */
async function settle(test: Case): Promise<string | null> {
  let escaped: ((e: unknown) => void) | undefined;
  const onEscape = (error: unknown) => escaped?.(error);
  process.on("uncaughtException", onEscape);
  process.on("unhandledRejection", onEscape);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      (async () => await test.fn())(),
      new Promise((_, reject) => {
        escaped = (e) => reject(new Error(`uncaught: ${describe(e)}`));
        timer = setTimeout(
          () => reject(new Error(`timed out after ${TIMEOUT_MS} ms`)),
          TIMEOUT_MS,
        );
      }),
    ]);
    // An error escaping just after the test ends is still the test's.
    await new Promise((resolve) => setTimeout(resolve, 20));
    return null;
  } catch (error) {
    return describe(error);
  } finally {
    clearTimeout(timer);
    process.off("uncaughtException", onEscape);
    process.off("unhandledRejection", onEscape);
  }
}

/** One line: the error's class and message. */
function describe(error: unknown): string {
  if (error instanceof Error) {
    return `${error.name}: ${error.message}`.split("\n").slice(0, 6).join(" ");
  }
  return String(error);
}

/**
 * Runs `cases` (those whose name contains `filter`) one at a time, printing
 * a line for each with `log`; resolves what passed, failed and was ignored.
 */
export async function runCases(
  cases: Case[],
  ops: Ops,
  filter = "",
  log: (line: string) => void = console.log,
): Promise<Summary> {
  const only = cases.some((c) => c.only);
  const summary: Summary = { passed: [], failed: [], ignored: [] };
  for (const test of cases) {
    if (!test.name.includes(filter)) continue;
    if (test.ignore || (only && !test.only)) {
      summary.ignored.push(test.name);
      log(`ignored ${test.name}`);
      continue;
    }
    const error = await runCase(test, ops);
    if (error === null) {
      summary.passed.push(test.name);
      log(`ok      ${test.name}`);
    } else {
      summary.failed.push({ name: test.name, error });
      log(`FAILED  ${test.name}: ${error}`);
    }
  }
  return summary;
}

/** Runs the test file `file` through `polyfill`, prints `SUMMARY <json>` and exits. */
export async function main(
  [polyfill, file, filter = ""]: string[],
): Promise<never> {
  await import(polyfill);
  const ops: Ops = await import(new URL("./ops/mod.js", polyfill).href);
  const deno = (globalThis as unknown as { Deno: Record<string, unknown> })
    .Deno;
  const cases: Case[] = [];
  deno.test ??= (a: unknown, b?: unknown, c?: unknown) =>
    void cases.push(toCase(a, b, c));
  deno.build ??= { os: osName(), arch: process.arch };
  await import(pathToFileURL(file).href);
  const summary = await runCases(cases, ops, filter);
  console.log(`SUMMARY ${JSON.stringify(summary)}`);
  // A failed test may have left a socket or timer open; the run is over.
  process.exit(0);
}
