/**
 * Graceful stop inside a parallel runner's worker: on the runner's message,
 * every listener this package made in the worker closes, so that accept loops
 * end and the worker exits once its connections are done.
 *
 * @module
 */
import process from "node:process";
import * as threads from "node:worker_threads";
import type { NativeListener } from "./types.ts";

/** What the runner sends a worker to stop it. */
export const STOP_MESSAGE: { tag: string; op: "stop" } = {
  tag: "@reuseport/net",
  op: "stop",
};

/** How long a worker whose primary died may finish its connections. */
const ORPHAN_GRACE_MS = 5_000;

const open = new Set<NativeListener>();
let installed = false;

function isStop(value: unknown): boolean {
  const v = value as { tag?: unknown; op?: unknown } | null;
  return v?.tag === STOP_MESSAGE.tag && v?.op === STOP_MESSAGE.op;
}

function stopAll(): void {
  for (const listener of [...open]) listener.close();
}

/** Tracks `listener` for a stop, when this is a runner's worker. */
export function stoppable<T extends NativeListener>(listener: T): T {
  if (!process.env.REUSEPORT_WORKER) return listener;
  if (!installed) {
    installed = true;
    // Neither listener holds the worker open: its own work does that.
    if (threads.isMainThread) {
      process.on("message", (m: unknown) => isStop(m) && stopAll());
      // A primary that is gone cannot stop us: stop as if it had asked.
      process.once("disconnect", () => {
        stopAll();
        setTimeout(() => process.exit(0), ORPHAN_GRACE_MS).unref();
      });
      (process.channel as { unref?(): void } | undefined)?.unref?.();
    } else {
      process.on("workerMessage", (m: unknown) => isStop(m) && stopAll());
    }
  }
  open.add(listener);
  // Forgotten when it closes, whoever closes it (the app, or a stop).
  const close = listener.close.bind(listener);
  listener.close = () => {
    open.delete(listener);
    close();
  };
  return listener;
}
