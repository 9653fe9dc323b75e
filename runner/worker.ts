/**
 * The worker side of the parallel runner: after the worker's first
 * `listen()` it tells the runner it is ready (what a rolling reload waits
 * for), and when the runner says stop (or the primary is gone), every
 * listener of the worker closes, so that accept loops end and the worker
 * exits once its connections are done.
 *
 * @module
 */
import process from "node:process";
import * as threads from "node:worker_threads";
import { readSettings } from "../core/settings.ts";
import { isStop, READY_MESSAGE } from "../sharing/wire.ts";

/** How long a worker whose primary died may finish its connections. */
const ORPHAN_GRACE_MS = 5_000;

let installed = false;

/**
 * Called at every `listen()`: in a runner's worker (`env` tells:
 * `REUSEPORT_WORKER`), the first one reports ready and installs `stop` for
 * the runner's stop; elsewhere nothing.
 */
export function onRunnerListen(
  env: (name: string) => string | undefined,
  stop: () => void,
): void {
  if (installed || !readSettings(env).worker) return;
  installed = true;
  // Ready once the code that listened has run to its end, so that an app
  // that listens on several addresses in one go is on all of them.
  setTimeout(() => {
    if (threads.isMainThread) {
      if (process.connected) process.send?.(READY_MESSAGE);
    } else threads.parentPort?.postMessage(READY_MESSAGE);
  }, 0);
  // Neither listener holds the worker open: its own work does that.
  if (threads.isMainThread) {
    process.on("message", (m: unknown) => isStop(m) && stop());
    // A primary that is gone cannot stop us: stop as if it had asked.
    process.once("disconnect", () => {
      stop();
      setTimeout(() => process.exit(0), ORPHAN_GRACE_MS).unref();
    });
    (process.channel as { unref?(): void } | undefined)?.unref?.();
  } else {
    process.on("workerMessage", (m: unknown) => isStop(m) && stop());
  }
}
