/**
 * What the runner and its workers say to each other, besides the sharing
 * protocol (`sharing/wire.ts`) that may travel on the same channel.
 *
 * @module
 */
import { TAG } from "../sharing/wire.ts";

/** What the runner sends a worker to stop it. */
export const STOP_MESSAGE: { tag: string; op: "stop" } = {
  tag: TAG,
  op: "stop",
};

/**
 * What a worker tells the runner once its first `listen()` returned and the
 * code that ran with it is done: its listeners are on their addresses (in
 * the owner's queue, or in the kernel's group of `SO_REUSEPORT` sockets).
 */
export const READY_MESSAGE: { tag: string; op: "ready" } = {
  tag: TAG,
  op: "ready",
};

/** Whether `value` is the runner's `op` message. */
function isRunnerOp(value: unknown, op: string): boolean {
  const v = value as { tag?: unknown; op?: unknown } | null;
  return v?.tag === TAG && v?.op === op;
}

/** Whether `value` is the runner's stop. */
export function isStop(value: unknown): boolean {
  return isRunnerOp(value, "stop");
}

/** Whether `value` is a worker's ready. */
export function isReady(value: unknown): boolean {
  return isRunnerOp(value, "ready");
}
