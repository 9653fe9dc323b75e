/**
 * A `Deno.test`-shaped runner on node:test, so that tests written the way
 * Deno's unit tests are (`tests/unit/net_test.ts` in denoland/deno) run on
 * Deno and on Node alike: `denoTest(fn)` or `denoTest(options, fn)`, named
 * after the function. `ignore` skips (a string says why). There is no
 * `permissions`: Deno's sandbox has no counterpart on Node. Like Deno's
 * resource sanitizer, a test fails when it leaves one of our rids open.
 *
 * The global `Deno` the tests use is this package's: through the polyfill
 * on Node; on Deno, Deno's own object with ours in place of `Deno.listen` and
 * `Deno.connect` (`installPolyfill({ override: true })`), so `Deno.errors`
 * stays Deno's and every `instanceof Deno.errors.X` is checked against the
 * runtime's own classes.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type * as net from "../mod.ts";
import { resources } from "../ops/mod.ts";
import { installPolyfill } from "../polyfill.ts";
import { type ChildResult, onDeno, runChild } from "./_child.ts";

/** The part of the global `Deno` these tests use. */
export interface DenoNet {
  listen: typeof net.listen;
  connect: typeof net.connect;
  errors: typeof net.errors;
}

/** Options of `denoTest`, as far as they mean anything here. */
export interface DenoTestOptions {
  /** Skip the test; a string says why. */
  ignore?: boolean | string;
  /** Milliseconds before the test fails (default 15 s). */
  timeout?: number;
}

type TestFn = () => void | Promise<void>;

/**
 * Set (to 1) by the check that runs these tests on Deno's own
 * `Deno.listen` / `Deno.connect`: they must pass on the oracle as well.
 */
export const NATIVE_ENV = "DENO_NET_TEST_NATIVE";
const native = onDeno && process.env[NATIVE_ENV] === "1";

/**
 * Puts ours in place of `Deno.listen` / `Deno.connect` (not when `NATIVE_ENV`
 * asks for Deno's own); returns the global `Deno`.
 */
export function denoWithOurs(): DenoNet {
  if (native) return (globalThis as unknown as { Deno: DenoNet }).Deno;
  const report = installPolyfill({ override: true });
  if (onDeno) {
    assert.ok(report.native, "the global Deno is the runtime's own");
    assert.deepEqual(
      [...report.installed, ...report.kept].filter((m) =>
        m === "listen" || m === "connect"
      ).sort(),
      ["connect", "listen"],
    );
  }
  return (globalThis as unknown as { Deno: DenoNet }).Deno;
}

/** Our rids that are open now. */
function openRids(): Set<string> {
  return new Set(Object.keys(resources()));
}

/** Fails if rids opened since `before` are still open once pending closes ran. */
async function sanitizeResources(before: Set<string>): Promise<void> {
  const deadline = Date.now() + 500;
  let left: string[] = [];
  do {
    left = [...openRids()].filter((rid) => !before.has(rid));
    if (left.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  } while (Date.now() < deadline);
  const names = resources();
  assert.fail(
    `the test left rids open: ${
      left.map((rid) => `${rid} (${names[Number(rid)]})`).join(", ")
    }`,
  );
}

/** `Deno.test(fn)` / `Deno.test(options, fn)` on node:test. */
export function denoTest(
  optionsOrFn: DenoTestOptions | TestFn,
  maybeFn?: TestFn,
): void {
  const [options, fn] = typeof optionsOrFn === "function"
    ? [{}, optionsOrFn]
    : [optionsOrFn, maybeFn!];
  test(fn.name, {
    skip: options.ignore ?? false,
    timeout: options.timeout ?? 15_000,
  }, async () => {
    const before = openRids();
    await fn();
    await sanitizeResources(before);
  });
}

const polyfillUrl = new URL(
  onDeno ? "../polyfill.ts" : "../polyfill.js",
  import.meta.url,
).href;

/**
 * Writes `code` to a module that first puts ours on the global `Deno` (as
 * `denoWithOurs` does) and returns the command that runs it: Deno's
 * `execCode` for these tests.
 */
function childProgram(code: string): { dir: string; args: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "reuseport-deno-test-"));
  const file = join(dir, "main.mjs");
  const ours = native
    ? ""
    : `import { installPolyfill } from ${
      JSON.stringify(polyfillUrl)
    };\ninstallPolyfill({ override: true });\n`;
  writeFileSync(file, ours + code);
  return { dir, args: onDeno ? ["run", "-A", "--quiet", file] : [file] };
}

/** Runs `code` in a child process of this runtime, our `Deno` in place; resolves how it ended. */
export async function execCode(
  code: string,
  timeout = 10_000,
): Promise<ChildResult> {
  const { dir, args } = childProgram(code);
  try {
    return await runChild(args, { NO_COLOR: "1" }, timeout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A child started by `execCode2`: wait for its output, then for its end. */
export interface RunningChild {
  /** Resolves once stdout contains `text`, rejects if the child ends first. */
  waitStdoutText(text: string): Promise<string>;
  /** Resolves once the child exited. */
  finished(): Promise<ChildResult>;
}

/** Starts `code` like `execCode`, for a test that talks to it while it runs. */
export function execCode2(code: string, timeout = 10_000): RunningChild {
  const { dir, args } = childProgram(code);
  const child = spawn(process.execPath, args, {
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const killer = setTimeout(() => child.kill("SIGKILL"), timeout);
  let stdout = "";
  let stderr = "";
  const waiters: (() => void)[] = [];
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    for (const wake of waiters) wake();
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  let exited = false;
  const ended = new Promise<ChildResult>((resolve) => {
    child.on("close", (code, signal) => {
      exited = true;
      clearTimeout(killer);
      rmSync(dir, { recursive: true, force: true });
      resolve({ code: code ?? (signal ? -1 : 0), stdout, stderr });
      for (const wake of waiters) wake();
    });
  });
  return {
    waitStdoutText: (text) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (stdout.includes(text)) resolve(stdout);
          else if (exited) {
            reject(
              new Error(`the child ended before printing ${text}:\n${stderr}`),
            );
          } else return false;
          return true;
        };
        if (!check()) waiters.push(() => void check());
      }),
    finished: () => ended,
  };
}

/**
 * A test that runs the test file `url` again in a Deno child with
 * `--unstable-net` and `env` (`NATIVE_ENV`: on Deno's own functions), and
 * passes when every test there passed.
 */
export function rerunOnDeno(
  name: string,
  url: string,
  env: Record<string, string>,
  timeout = 60_000,
): void {
  test(name, { timeout }, async () => {
    const { code, stdout, stderr } = await runChild(
      ["test", "-A", "--unstable-net", fileURLToPath(url)],
      { ...env, NO_COLOR: "1" },
      timeout - 10_000,
    );
    assert.equal(code, 0, stdout + stderr);
    assert.match(stdout, /ok \| \d+ passed \| 0 failed/);
  });
}
