/**
 * Which runtime this is, and which listening strategy a `listen()` call gets.
 * The only module that decides anything by runtime or OS.
 *
 * @module
 */
import { denoNamespace, denoRuntime } from "./deno.ts";
import { nodeRuntime } from "./node.ts";
import type { Runtime } from "./types.ts";

export type {
  BindRequest,
  NativeListener,
  NativeStream,
  Runtime,
  SocketAddress,
} from "./types.ts";

let current: Runtime | undefined;

/** The runtime this process runs on, detected by feature, not by version. */
export function runtime(): Runtime {
  current ??= denoNamespace() ? denoRuntime : nodeRuntime;
  return current;
}

/**
 * How a listener gets its socket:
 * - `direct`: a socket of its own; a second listener on the address fails.
 * - `kernel`: a socket of its own with `SO_REUSEPORT`; the kernel balances.
 * - `emulated`: a clone of the process's one socket for the address; the
 *   process balances between clones.
 */
export type Strategy = "direct" | "kernel" | "emulated";

/** The strategy for a listener with these options on this runtime and OS. */
export function chooseStrategy(
  reusePort: boolean,
  loadBalanced: boolean,
): Strategy {
  if (loadBalanced) return "emulated";
  if (!reusePort) return "direct";
  return runtime().kernelReusePort ? "kernel" : "emulated";
}
