/**
 * The command line of the parallel runner:
 * `reuseport serve --parallel[=N] [--threads|--processes] <module> [args...]`:
 * runs the module in N workers whose listeners share their addresses (like
 * `deno serve --parallel`). Ctrl-C stops them gracefully; a second Ctrl-C
 * kills them.
 *
 * @module
 */
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import process from "node:process";
import type { StrategyChoice } from "./ops/strategy.ts";
import { serveParallel, strategyFor } from "./parallel.ts";
import type {
  ParallelEvent,
  ParallelMode,
  ParallelServer,
} from "./runner/types.ts";

const USAGE =
  "usage: reuseport serve --parallel[=N] [--threads|--processes] <module> [args...]";

interface Command {
  workers: number;
  mode: ParallelMode;
  file: string;
  args: string[];
}

/** Parses the command line; throws a `TypeError` naming what is wrong. */
export function parseArgs(argv: string[]): Command {
  const [verb, ...rest] = argv;
  if (verb !== "serve") {
    throw new TypeError(`unknown command ${JSON.stringify(verb)}`);
  }
  let workers = availableParallelism();
  let parallel = false;
  let mode: ParallelMode = "auto";
  while (rest[0]?.startsWith("--")) {
    const flag = rest.shift()!;
    const [name, value] = flag.split("=", 2);
    if (name === "--parallel") {
      parallel = true;
      if (value !== undefined) {
        workers = Number(value);
        if (!Number.isInteger(workers) || workers < 1) {
          throw new TypeError(
            `--parallel wants a positive integer: received ${
              JSON.stringify(value)
            }`,
          );
        }
      }
    } else if (flag === "--threads") mode = "threads";
    else if (flag === "--processes") mode = "processes";
    else throw new TypeError(`unknown option ${flag}`);
  }
  const [file, ...args] = rest;
  if (!file) throw new TypeError("no module given");
  return { workers: parallel ? workers : 1, mode, file: resolve(file), args };
}

/** Reports restarts and give-ups on stderr. */
function report(event: ParallelEvent): void {
  if (event.type !== "restart" && event.type !== "give-up") return;
  const what = event.type === "restart"
    ? "restarting it"
    : "it keeps dying at start; not restarting it";
  process.stderr.write(
    `reuseport: worker ${event.worker} exited with code ${event.code}; ${what}\n`,
  );
  if (event.type === "give-up") process.exitCode = 1;
}

/** Runs the command; resolves the exit code (or never, while serving). */
export async function main(argv: string[]): Promise<number> {
  let server: ParallelServer;
  let choice: StrategyChoice;
  try {
    const command = parseArgs(argv);
    choice = strategyFor({ loadBalanced: true });
    server = await serveParallel({ ...command, onEvent: report });
  } catch (err) {
    const { name, message } = err as Error;
    process.stderr.write(`reuseport: ${name}: ${message}\n${USAGE}\n`);
    return 2;
  }
  const how = choice.strategy !== "emulated"
    ? choice.reason
    : server.mode === "threads"
    ? "the main thread owns each socket and moves connections to the worker waiting for one"
    : "the primary owns each socket and passes connections to the worker waiting for one over IPC";
  process.stderr.write(
    `reuseport: ${server.workers} workers (${server.mode}), strategy ${choice.strategy}: ${how}\n`,
  );
  let stops = 0;
  const stop = () => {
    if (++stops > 1) process.exit(130);
    process.stderr.write("reuseport: stopping workers\n");
    server.close().then(() => process.exit(process.exitCode ?? 0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  // The workers' output passes through here (threads); a reader that went
  // away must cost the log, not the server.
  for (const out of [process.stdout, process.stderr]) {
    out.on("error", (err: Error & { code?: string }) => {
      if (err.code !== "EPIPE") throw err;
    });
  }
  // The workers keep the process alive; `stop` exits it.
  return await new Promise<number>(() => {});
}
