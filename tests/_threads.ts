/**
 * `tests/fixtures/threads_program.mjs` in a child process, for the tests of
 * worker threads sharing an address (TCP, TLS, a Unix socket): two workers
 * of a main thread that never loads the package, and what the clients saw.
 */
import { execFile } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { modUrl, onDeno } from "./_child.ts";

/** What the program prints: the second worker's error, or who answered. */
export interface ThreadsSeen {
  error?: string;
  /** Answers by worker (`w1`, `w2`), or how connections failed. */
  before: Record<string, number>;
  /** The same after the first worker closed or was terminated (midway). */
  after: Record<string, number>;
  /** Who answered a last connection, after all the others. */
  last: string;
}

/** The program, as source (the build's tests run it from the repository). */
const program = fileURLToPath(
  new URL("../tests/fixtures/threads_program.mjs", import.meta.url).href
    .replace("/npm/esm/tests/", "/tests/"),
);

/**
 * Runs the program with `option` (`loadBalanced`, `reusePort`) and `phase`
 * (`share`, `handover`, `terminate`), `extra` arguments (the TLS files) and
 * `env` (`REUSEPORT_STRATEGY`, `THREADS_UNIX_PATH`).
 */
export function runThreadsProgram(
  option: string,
  phase: string,
  env: Record<string, string>,
  extra: string[] = [],
): Promise<ThreadsSeen> {
  const args = [program, modUrl, option, phase, ...extra];
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      onDeno ? ["run", "-A", ...args] : args,
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`${err.message}\n${stderr}`));
        resolve(JSON.parse(stdout.trim().split("\n").at(-1)!));
      },
    );
  });
}

/** Answers that are not a worker's id: failed connections. */
export const threadFailures = (counts: Record<string, number>): number =>
  Object.entries(counts).filter(([who]) => !/^w\d$/.test(who))
    .reduce((sum, [, n]) => sum + n, 0);
