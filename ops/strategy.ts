/**
 * Which way a listener gets its socket, and why. The choice depends on the
 * options, on what this runtime and OS can do (feature tests, not version
 * numbers) and on `REUSEPORT_STRATEGY` or `setStrategy()`, which force one.
 *
 * @module
 */
import {
  parseStrategySetting,
  readSettings,
  type StrategySetting,
} from "../core/settings.ts";
import { NotSupported } from "../core/errors.ts";
import type { Runtime } from "../platform/types.ts";
import { listenHook } from "./hooks.ts";
import { runtime } from "./runtime.ts";

export type { StrategySetting };

/**
 * How a listener gets its socket:
 * - `direct`: a socket of its own; a second listener on the address fails.
 * - `kernel`: a socket of its own with `SO_REUSEPORT`; the kernel balances.
 * - `emulated`: a clone of the one socket shared for the address (by the
 *   process, its worker threads, or the parallel runner's processes); we
 *   balance between clones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Strategy, strategyFor } from "@reuseport/net";
 *
 * const strategy: Strategy = strategyFor({}).strategy;
 * assert.equal(strategy, "direct");
 * ```
 */
export type Strategy = "direct" | "kernel" | "emulated";

/**
 * A strategy and the reason it was chosen, for diagnostics and the demo.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type StrategyChoice, strategyFor } from "@reuseport/net";
 *
 * const choice: StrategyChoice = strategyFor({ loadBalanced: true });
 * assert.equal(choice.strategy, "emulated");
 * ```
 */
export interface StrategyChoice {
  /** The strategy. */
  strategy: Strategy;
  /** Why: which option, setting or capability decided. */
  reason: string;
}

let programmatic: StrategySetting | undefined;

/**
 * Forces the strategy of later `listen()` calls with `reusePort` or
 * `loadBalanced`, as `REUSEPORT_STRATEGY` does (this wins over it);
 * `undefined` goes back to the environment. Forcing `kernel` makes such a
 * `listen()` throw `NotSupported` where the kernel cannot balance.
 *
 * @example
 * ```ts
 * import { listen, setStrategy } from "@reuseport/net";
 *
 * setStrategy("emulated");
 * const a = listen({ hostname: "127.0.0.1", port: 0, reusePort: true });
 * // emulated: both listeners share one socket
 * const b = listen({ hostname: "127.0.0.1", port: a.addr.port, reusePort: true });
 * a.close();
 * b.close();
 * setStrategy(undefined);
 * ```
 */
export function setStrategy(setting: StrategySetting | undefined): void {
  programmatic = setting === undefined
    ? undefined
    : parseStrategySetting(setting, "setStrategy()");
}

/** The setting in force: `setStrategy()` first, then `REUSEPORT_STRATEGY`, then `auto`. */
export function strategySetting(rt: Runtime): {
  setting: StrategySetting;
  source: string;
} {
  if (programmatic) return { setting: programmatic, source: "setStrategy()" };
  const { strategy } = readSettings((name) => rt.env(name));
  if (strategy) {
    return { setting: strategy, source: `REUSEPORT_STRATEGY=${strategy}` };
  }
  return { setting: "auto", source: "auto" };
}

/**
 * The strategy for a listener with these options. `inWorker`: whether a
 * listener without `loadBalanced` shares anyway (the runner's workers, as
 * in `deno serve --parallel`; the listen hook says so). Forcing `kernel`
 * where it cannot work throws `NotSupported` rather than falling back in
 * silence.
 */
export function chooseStrategy(
  rt: Runtime,
  reusePort: boolean,
  loadBalancedOption: boolean | undefined,
  inWorker: boolean = listenHook()?.loadBalanced ?? false,
): StrategyChoice {
  const loadBalanced = loadBalancedOption ?? inWorker;
  if (!reusePort && !loadBalanced) {
    return { strategy: "direct", reason: "neither reusePort nor loadBalanced" };
  }
  const { setting, source } = strategySetting(rt);
  const kernel = rt.kernelSupport();
  if (setting === "kernel") {
    if (!kernel.supported) {
      throw new NotSupported(
        `${source}: the kernel strategy cannot work here: ${kernel.reason}`,
      );
    }
    return { strategy: "kernel", reason: `${source}; ${kernel.reason}` };
  }
  if (setting === "emulated") return { strategy: "emulated", reason: source };
  if (loadBalanced) {
    return {
      strategy: "emulated",
      reason: loadBalancedOption === undefined
        ? "loadBalanced, on by default in the parallel runner's workers: one socket shared by all the workers' listeners"
        : "loadBalanced: one socket shared by the process's listeners",
    };
  }
  return {
    strategy: kernel.supported ? "kernel" : "emulated",
    reason: kernel.reason,
  };
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
