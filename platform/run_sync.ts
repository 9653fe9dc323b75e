/**
 * A small script run to its end in a helper process of this runtime, for an
 * answer that Deno gives synchronously and Node has only asynchronously (a
 * host name resolved before `listen()` returns, the runner's primary asked).
 *
 * @module
 */
import { builtin } from "./builtin.ts";

/** How long a helper gets before it is killed, unless the caller says. */
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Runs `script` as `<this runtime> -e script ...args` (Node and Bun: a
 * CommonJS script, `process.argv[1]` the first of `args`) and returns what it
 * wrote to stdout; `""` when it could not start or was killed after
 * `timeoutMs`, so that the caller reads no answer as a failure of its own.
 */
export function runSync(
  script: string,
  args: readonly string[],
  timeoutMs: number = DEFAULT_TIMEOUT_MS,
): string {
  const child = builtin("node:child_process").spawnSync(
    builtin("node:process").execPath,
    ["-e", script, ...args],
    {
      encoding: "utf8",
      timeout: timeoutMs,
    },
  );
  return child.stdout ?? "";
}
