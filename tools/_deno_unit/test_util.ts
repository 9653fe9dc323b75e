/**
 * Our stand-in for Deno's `tests/unit/test_util.ts` (which needs `@std/*`
 * from JSR, unreachable here): the helpers `net_test.ts` imports, written
 * over `node:assert/strict` with the semantics of `@std/assert` where the
 * tests depend on them (an `assertRejects` whose function throws instead of
 * rejecting fails; the error class and message are checked).
 * `tools/deno_unit_suite.ts` writes it next to Deno's test file as
 * `test_util.ts`, with `POLYFILL` set.
 *
 * On Deno it uses Deno's own API (as the original does), so a test's
 * permissions apply to it exactly as they do to the original; elsewhere
 * `node:` modules.
 *
 * @module
 */
import assertNode from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/**
 * The module that puts ours on the global `Deno` in a child, or "" for
 * native Deno. Replaced by the suite when it writes this file out.
 */
const POLYFILL: string = "";
/**
 * On Deno with ours: a module that installs them, preloaded into the `deno
 * run` children of the permission tests. Replaced as `POLYFILL` is.
 */
const PRELOAD: string = "";

/** What these helpers use of Deno's own namespace. */
interface DenoOwn {
  execPath(): string;
  makeTempDirSync(): string;
  Command: new (cmd: string, options: {
    args: string[];
    stdout: "piped";
    stderr: "inherit";
  }) => {
    spawn(): {
      stdout: ReadableStream<Uint8Array>;
      status: Promise<{ code: number }>;
    };
  };
}

/** Deno's own namespace, or undefined off Deno (a polyfill's is not). */
function denoOwn(): DenoOwn | undefined {
  const deno = (globalThis as { Deno?: { internal?: unknown } }).Deno;
  return typeof deno?.internal === "symbol"
    ? deno as unknown as DenoOwn
    : undefined;
}

/** `@std/assert`'s `AssertionError`. */
export class AssertionError extends Error {
  /** Names the class as `@std/assert` does. */
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

/** Fails unless `expr` is truthy. */
export function assert(expr: unknown, msg = ""): asserts expr {
  if (!expr) throw new AssertionError(msg || "Expected actual to be truthy");
}

/** Deep equality as `@std/assert` has it (constructors included). */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  assertNode.deepStrictEqual(actual, expected, msg);
}

/** Fails unless `actual >= expected`. */
export function assertGreaterOrEqual<T>(actual: T, expected: T): void {
  if (!(actual >= expected)) {
    throw new AssertionError(`Expect ${actual} >= ${expected}`);
  }
}

/** Fails unless `actual` contains `expected`. */
export function assertStringIncludes(actual: string, expected: string): void {
  if (!actual.includes(expected)) {
    throw new AssertionError(
      `Expected actual: "${actual}" to contain: "${expected}".`,
    );
  }
}

// deno-lint-ignore no-explicit-any
type ErrorClass<E extends Error = Error> = abstract new (...args: any[]) => E;

/** Checks `error` is an `ErrorClass` whose message contains `msgIncludes`. */
function assertIsError(
  error: unknown,
  ErrorClass?: ErrorClass,
  msgIncludes?: string,
): void {
  if (ErrorClass === undefined) return;
  if (!(error instanceof ErrorClass)) {
    throw new AssertionError(
      `Expected error to be instance of "${ErrorClass.name}", but was "${
        (error as Error | undefined)?.constructor?.name
      }": ${String(error)}`,
    );
  }
  if (msgIncludes !== undefined && !error.message.includes(msgIncludes)) {
    throw new AssertionError(
      `Expected error message to include "${msgIncludes}", but got "${error.message}".`,
    );
  }
}

/** Fails unless `fn` throws (an `ErrorClass` with `msgIncludes`); returns what it threw. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
): E {
  try {
    fn();
  } catch (error) {
    assertIsError(error, ErrorClass, msgIncludes);
    return error as E;
  }
  throw new AssertionError("Expected function to throw.");
}

/**
 * Fails unless the promise `fn` returns rejects (with an `ErrorClass` and
 * `msgIncludes`); a function that throws instead fails, as in `@std/assert`.
 */
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
): Promise<E> {
  let returned = false;
  try {
    const result = fn();
    if (typeof result?.then !== "function") {
      throw new AssertionError("Function throws when expected to reject.");
    }
    returned = true;
    await result;
  } catch (error) {
    if (!returned) {
      if (error instanceof AssertionError) throw error;
      throw new AssertionError(
        `Function throws when expected to reject: ${String(error)}`,
      );
    }
    assertIsError(error, ErrorClass, msgIncludes);
    return error as E;
  }
  throw new AssertionError("Expected function to reject.");
}

/** Resolves after `ms`; rejects with the signal's reason when it aborts first. */
export function delay(
  ms: number,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const abort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", abort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", abort, { once: true });
  });
}

/** A child started by `execCode2` / `execCode3`. */
export interface Exec {
  /** Resolves once stdout contains `text`; rejects if it ends first. */
  waitStdoutText(text: string): Promise<void>;
  /** Resolves `[exit code, stdout]` once the child ended. */
  finished(): Promise<readonly [number, string]>;
}

/** Wraps a stdout stream of text chunks into `Exec`. */
function execOf(
  chunks: AsyncIterable<string>,
  status: () => Promise<number>,
): Exec {
  const iterator = chunks[Symbol.asyncIterator]();
  let output = "";
  const more = async (): Promise<boolean> => {
    const { value, done } = await iterator.next();
    if (value) output += value;
    return !done;
  };
  return {
    async waitStdoutText(text) {
      while (!output.includes(text)) {
        if (!(await more())) {
          throw new Error(`Did not find text '${text}' in stdout.`);
        }
      }
    },
    async finished() {
      while (await more());
      return [await status(), output] as const;
    },
  };
}

/**
 * Runs `cmd args` with stdout piped and stderr inherited. A `deno run` child
 * gets ours too when they are in place here (`PRELOAD`).
 */
export function execCode3(cmd: string, args: string[]): Exec {
  const deno = denoOwn();
  if (deno) {
    if (PRELOAD && cmd === deno.execPath() && args[0] === "run") {
      args = ["run", `--preload=${PRELOAD}`, ...args.slice(1)];
    }
    const child = new deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const text = child.stdout.pipeThrough(new TextDecoderStream());
    return execOf(text, async () => (await child.status).code);
  }
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number>((resolve) =>
    child.on("close", (code) => resolve(code ?? -1))
  );
  return execOf(child.stdout.setEncoding("utf8"), () => exited);
}

/**
 * Runs `code` as a module in a child of this runtime: `deno eval` on Deno
 * (ours put in place first when `POLYFILL` is set), a temp `.mjs` file that
 * imports the polyfill first on Node and Bun.
 */
export function execCode2(code: string): Exec {
  const prelude = POLYFILL
    ? `import { installPolyfill } from ${
      JSON.stringify(POLYFILL)
    };\ninstallPolyfill({ override: true });\n`
    : "";
  const deno = denoOwn();
  if (deno) return execCode3(deno.execPath(), ["eval", prelude + code]);
  const dir = mkdtempSync(join(tmpdir(), "deno-unit-child-"));
  const file = join(dir, "main.mjs");
  writeFileSync(file, `import ${JSON.stringify(POLYFILL)};\n${code}`);
  const exec = execCode3(process.execPath, [file]);
  return {
    waitStdoutText: exec.waitStdoutText,
    finished: () =>
      exec.finished().finally(() =>
        rmSync(dir, { recursive: true, force: true })
      ),
  };
}

/** Runs `code` as `execCode2` does and resolves `[exit code, stdout]`. */
export function execCode(code: string): Promise<readonly [number, string]> {
  return execCode2(code).finished();
}

/** A path for a Unix socket in a new temp directory. */
export function tmpUnixSocketPath(): string {
  const deno = denoOwn();
  const folder = deno
    ? deno.makeTempDirSync()
    : mkdtempSync(join(tmpdir(), "deno-unit-"));
  return join(folder, "socket");
}
