/**
 * The worker side of the parallel runner: when the runner says stop (or the
 * primary is gone), every listener of the worker closes, so that accept
 * loops end and the worker exits once its connections are done.
 *
 * @module
 */
import process from "node:process";
import * as threads from "node:worker_threads";
import { readSettings } from "../core/settings.ts";
import { isStop } from "../sharing/wire.ts";

/** How long a worker whose primary died may finish its connections. */
const ORPHAN_GRACE_MS = 5_000;

let installed = false;

/**
 * Calls `stop` when the runner stops this worker; does nothing outside a
 * runner's worker (`env` tells: `REUSEPORT_WORKER`). Installs once.
 */
export function onRunnerStop(
  env: (name: string) => string | undefined,
  stop: () => void,
): void {
  if (installed || !readSettings(env).worker) return;
  installed = true;
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
