/**
 * What keeps the event loop alive for pending operations on things that do
 * not hold it themselves (bare TCP handles, unref'd from the start): one
 * referenced timer for all of them, instead of `ref()` and `unref()` on each
 * handle. A server's read is pending between nearly every two requests, so
 * per-handle toggling cost two binding calls per request; the count here
 * changes in JavaScript and touches the timer only when it goes from 0 to 1
 * or back (and the timer then touches libuv only when no other referenced
 * timer exists). `node:timers`, not the global: Deno's global timers are
 * numbers, without `ref()`. Nothing here is the libuv adapter's own: any
 * part of the platform layer (and `sharing/`) may hold the loop with it.
 *
 * @module
 */

import { setInterval } from "node:timers";

/** Longest delay a Node timer takes; it never needs to fire. */
const NEVER_MS = 2 ** 31 - 1;

let holds = 0;
let timer: ReturnType<typeof setInterval> | undefined;

/** One more pending operation keeps the process alive. */
export function hold(): void {
  if (holds++ > 0) return;
  timer ??= setInterval(() => {}, NEVER_MS);
  timer.ref();
}

/** A pending operation that `hold()` counted has settled. */
export function release(): void {
  if (--holds === 0) timer!.unref();
}

/**
 * One thing's share of the hold: `set(true)` holds the loop for it,
 * `set(false)` lets go, and setting what is already set costs a compare. A
 * socket whose receive loop waits again right after each datagram flips it
 * twice a datagram without a binding call.
 *
 * @example
 * ```ts
 * import { LoopHold } from "./loop_hold.ts";
 *
 * const pending = new LoopHold();
 * pending.set(true); // a receive waits: the process stays alive
 * pending.set(false); // it settled
 * ```
 */
export class LoopHold {
  #held = false;

  /** Holds the loop (`true`) or lets it go (`false`). */
  set(on: boolean): void {
    if (on === this.#held) return;
    this.#held = on;
    if (on) hold();
    else release();
  }
}
