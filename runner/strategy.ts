/**
 * Which strategy the runner's workers listen with, decided in the primary
 * before it starts them.
 *
 * @module
 */
import { NotSupported } from "../core/errors.ts";
import { readSettings } from "../core/settings.ts";
import { chooseStrategy } from "../ops/strategy.ts";
import type { Runtime } from "../platform/types.ts";
import type { WorkerStrategy } from "./supervisor.ts";

/**
 * The strategy of the workers' listeners: what `listen()` chooses in a
 * worker (`loadBalanced` by default, or what `REUSEPORT_STRATEGY` forces).
 * Emulated needs a hub that passes connections (`Runtime.handles`); where
 * there is none (Deno), every worker binds its own socket and the kernel
 * balances, or nothing can.
 */
export function workerStrategy(rt: Runtime): WorkerStrategy {
  // As a worker sees it: loadBalanced by default.
  const choice = chooseStrategy(rt, false, undefined, true);
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
