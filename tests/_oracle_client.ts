/**
 * Runs the oracle (native Deno) once per test process and caches its answers.
 */
import { execFile } from "node:child_process";

/** The Deno CLI that `npm install` brings: the oracle. */
export const DENO_BIN = "node_modules/.bin/deno";

let answers: Promise<Record<string, unknown>> | undefined;

/** Each scenario's result on native Deno. */
export function oracleResults(): Promise<Record<string, unknown>> {
  answers ??= new Promise((resolve, reject) => {
    execFile(
      DENO_BIN,
      ["run", "-A", "--quiet", "tests/_oracle.ts"],
      { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`the oracle failed: ${err.message}\n${stderr}`));
        } else resolve(JSON.parse(stdout));
      },
    );
  });
  return answers;
}
