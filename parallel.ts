/**
 * The parallel runner: one module in N workers (threads or processes) whose
 * listeners share their addresses, like `deno serve --parallel`.
 *
 * @module
 */
import { runtime } from "./ops/runtime.ts";
import { workerStrategy } from "./runner/strategy.ts";
import { runParallel, type WorkerStrategy } from "./runner/supervisor.ts";
import type {
  ParallelEvent,
  ParallelMode,
  ParallelOptions,
  ParallelReplacement,
  ParallelServer,
} from "./runner/types.ts";

export type {
  ParallelEvent,
  ParallelMode,
  ParallelOptions,
  ParallelReplacement,
  ParallelServer,
};

/**
 * Runs the module `options.file` in `options.workers` workers. Inside them
 * `listen()` defaults to `loadBalanced: true`, so every worker's listener on
 * an address shares it; `REUSEPORT_WORKER` (1 to N) tells a worker its
 * number. Resolves once every worker's first `listen()` is done. A worker
 * that exits before (the module is not found, has a syntax error, throws,
 * or exits) stops them all and the promise rejects with an `Error` saying
 * `cannot load <file>: <why>`, the error the worker died of in one line
 * (its trace, which every worker would print, is not shown: until it
 * listens, for `readyMs` at most, a worker process's stderr is held back).
 * Once started, a worker that dies is restarted; `reload()` replaces them
 * one at a time without refusing a connection; `close()` (or aborting
 * `signal`) stops them all, listeners first. On Node the workers share each
 * socket through the runner (or with the kernel strategy, if forced); on
 * Deno each binds its own with the kernel strategy (Linux), and elsewhere
 * this rejects with `NotSupported` saying why.
 *
 * @example
 * ```ts ignore
 * import { serveParallel } from "@reuseport/net";
 *
 * const server = await serveParallel({ file: "./app.mjs", workers: 2 });
 * await server.close();
 * ```
 */
export function serveParallel(
  options: ParallelOptions,
): Promise<ParallelServer> {
  if (!Number.isInteger(options.workers) || options.workers < 1) {
    return Promise.reject(
      new TypeError(
        `workers must be a positive integer: received ${options.workers}`,
      ),
    );
  }
  const rt = runtime();
  let strategy: WorkerStrategy;
  try {
    strategy = workerStrategy(rt);
  } catch (err) {
    return Promise.reject(err);
  }
  return runParallel(rt, options, strategy);
}
