/**
 * The parallel runner: one module in N workers (threads or processes) whose
 * listeners share their addresses, like `deno serve --parallel`.
 *
 * @module
 */
import { ENV, readSettings } from "./core/settings.ts";
import { NotSupported } from "./errors.ts";
import { runtime } from "./ops/runtime.ts";
import { chooseStrategy, type StrategyChoice } from "./ops/strategy.ts";
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
 * The strategy of the workers' listeners: what `listen()` chooses in a
 * worker (`loadBalanced` by default, or what `REUSEPORT_STRATEGY` forces).
 * Emulated needs a hub that passes connections (`Runtime.handles`); where
 * there is none (Deno), every worker binds its own socket and the kernel
 * balances, or nothing can.
 */
function workerStrategy(rt: ReturnType<typeof runtime>): WorkerStrategy {
  // As a worker sees it: REUSEPORT_WORKER set, so loadBalanced by default.
  const inWorker = {
    ...rt,
    env: (name: string) => name === ENV.worker ? "1" : rt.env(name),
  };
  const choice = chooseStrategy(inWorker, false, undefined);
  const strategy = choice.strategy === "kernel" ? "kernel" : "emulated";
  if (strategy === "kernel" || rt.handles) return { ...choice, strategy };
  const why =
    `${rt.name} cannot pass connections between processes (the emulated strategy's hub needs that)`;
  const kernel = rt.kernelSupport();
  if (!kernel.supported) {
    throw new NotSupported(
      `the parallel runner cannot share an address here: ${why}, and the kernel strategy cannot work: ${kernel.reason}. On Deno, deno serve --parallel shares one socket between its workers natively`,
    );
  }
  if (readSettings((name) => rt.env(name)).strategy === "emulated") {
    throw new NotSupported(
      `REUSEPORT_STRATEGY=emulated: the parallel runner cannot use it here: ${why}; use the kernel strategy`,
    );
  }
  return {
    strategy: "kernel",
    reason:
      `${kernel.reason}; ${why}, so every worker binds its own socket and the kernel balances`,
  };
}

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
  return runParallel(rt.handles, options, strategy);
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
