/**
 * Small programs run in a child process against this package: from source on
 * Deno, from the build on Node (the tests themselves run from the build there).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { isBun, isNativeDeno } from "../core/detect.ts";

/** Whether this runs on Deno (from source; a polyfilled `Deno` on Node is not). */
export const onDeno: boolean = isNativeDeno();
/** Bun (it runs the Node build, as Node does). */
export const onBun: boolean = isBun();
const here = new URL(".", import.meta.url);

/** The URL of this package's entry point for a child program. */
export const modUrl: string =
  new URL(onDeno ? "../mod.ts" : "../mod.js", here).href;

/** How a child process ended: its exit code (-1 if it was killed, by the timeout say) and its output. */
export interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs this runtime's binary (Deno or Node) with `args` to its end, with
 * `env` added to ours; resolves how it ended, never rejects.
 */
export function runChild(
  args: string[],
  env: Record<string, string> = {},
  timeout = 15_000,
): Promise<ChildResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { env: { ...process.env, ...env }, timeout },
      (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        resolve({
          code: typeof code === "number" ? code : err ? -1 : 0,
          stdout,
          stderr,
        });
      },
    );
  });
}

/** Writes `body` (after an import of `listen`, `connect`, `setStrategy`, `strategyFor`) to a temp file and runs it. */
export async function runSnippet(
  body: string,
  env: Record<string, string> = {},
  denoFlags: string[] = [],
  timeout = 15_000,
): Promise<ChildResult> {
  const dir = mkdtempSync(join(tmpdir(), "reuseport-snippet-"));
  const file = join(dir, "snippet.mjs");
  writeFileSync(
    file,
    `import { connect, listen, setStrategy, strategyFor } from "${modUrl}";\n${body}`,
  );
  const args = onDeno ? ["run", "-A", ...denoFlags, file] : [file];
  try {
    return await runChild(args, env, timeout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
