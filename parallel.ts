/**
 * The parallel runner: one module in N workers (threads or processes) whose
 * listeners share their addresses, like `deno serve --parallel`.
 *
 * @module
 */
import { NotSupported } from "./errors.ts";
import { runtime } from "./ops/runtime.ts";
import { chooseStrategy, type StrategyChoice } from "./ops/strategy.ts";
import { runParallel } from "./runner/supervisor.ts";
import type {
  ParallelEvent,
  ParallelMode,
  ParallelOptions,
  ParallelServer,
} from "./runner/types.ts";

export type { ParallelEvent, ParallelMode, ParallelOptions, ParallelServer };

/**
 * Runs the module `options.file` in `options.workers` workers. Inside them
 * `listen()` defaults to `loadBalanced: true`, so every worker's listener on
 * an address shares it; `REUSEPORT_WORKER` (1 to N) tells a worker its
 * number. A worker that dies is restarted; `close()` stops them all,
 * listeners first. Node only: on Deno use `deno serve --parallel`.
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
  const { handles } = runtime();
  if (!handles) {
    return Promise.reject(
      new NotSupported(
        `the parallel runner needs a runtime that passes connections between processes, which ${runtime().name} cannot; on Deno, run \`deno serve --parallel\`, which shares one socket between its workers natively`,
      ),
    );
  }
  if (!Number.isInteger(options.workers) || options.workers < 1) {
    return Promise.reject(
      new TypeError(
        `workers must be a positive integer: received ${options.workers}`,
      ),
    );
  }
  return runParallel(handles, options);
}

/**
 * The strategy `listen()` uses for these options here, and why: `direct`,
 * `kernel` (`SO_REUSEPORT`, the kernel balances) or `emulated` (one shared
 * socket, connections in turn). Throws `NotSupported` when
 * `REUSEPORT_STRATEGY=kernel` is forced where the kernel cannot balance.
 *
 * @example
 * ```ts
 * import { strategyFor } from "@reuseport/net";
 *
 * const { strategy, reason } = strategyFor({ reusePort: true });
 * console.log(`${strategy}: ${reason}`);
 * ```
 */
export function strategyFor(
  options: { reusePort?: boolean; loadBalanced?: boolean },
): StrategyChoice {
  return chooseStrategy(
    runtime(),
    options.reusePort ?? false,
    options.loadBalanced,
  );
}
