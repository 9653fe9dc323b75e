/**
 * Which runtime this is, and which listening strategy a `listen()` call gets.
 * The only module that decides anything by runtime or OS.
 *
 * @module
 */
import { bunRuntime, onBun } from "./bun/mod.ts";
import { denoNamespace, denoRuntime } from "./deno.ts";
import { nodeRuntime } from "./node.ts";
import { chooseStrategy as choose, type StrategyChoice } from "./strategy.ts";
import type { Runtime } from "./types.ts";

export type {
  BindRequest,
  NativeListener,
  NativeStream,
  ParallelEvent,
  ParallelMode,
  ParallelOptions,
  ParallelServer,
  Runtime,
  SocketAddress,
} from "./types.ts";

let current: Runtime | undefined;

/** The runtime this process runs on, detected by feature, not by version. */
export function runtime(): Runtime {
  current ??= denoNamespace()
    ? denoRuntime
    : onBun()
    ? bunRuntime
    : nodeRuntime;
  return current;
}

export {
  parseStrategySetting,
  setStrategy,
  type Strategy,
  type StrategyChoice,
  type StrategySetting,
} from "./strategy.ts";

/** The strategy for a listener with these options here, and why. */
export function chooseStrategy(
  reusePort: boolean,
  loadBalanced: boolean | undefined,
): StrategyChoice {
  return choose(runtime(), reusePort, loadBalanced);
}
