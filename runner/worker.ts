/**
 * The worker side of the parallel runner, registered with the ops as their
 * listen hook before the worker's module runs (`worker_preload.ts`): a
 * listener without `loadBalanced` shares its address; after the worker's
 * first `listen()` it tells the runner it is ready (what a rolling reload
 * waits for); and when the runner says stop (or the primary is gone), every
 * listener of the worker closes, so that accept loops end and the worker
 * exits once its connections are done.
 *
 * @module
 */
import { builtin } from "../platform/builtin.ts";
import { type ListenHook, setListenHook } from "../ops/hooks.ts";
import { isStop, READY_MESSAGE } from "./wire.ts";

/** How long a worker whose primary died may finish its connections. */
const ORPHAN_GRACE_MS = 5_000;

/** The runner's worker side, for this thread. */
class WorkerHook implements ListenHook {
  readonly loadBalanced = true;
  /** What closes the listeners of each copy of the ops that listened. */
  #closers = new Set<() => void>();

  listened(closeAll: () => void): void {
    if (this.#closers.size === 0) this.#start();
    this.#closers.add(closeAll);
  }

  #stop(): void {
    for (const closeAll of this.#closers) closeAll();
  }

  /** At the first listen: ready, and from then on, the runner's stop. */
  #start(): void {
    // Ready once the code that listened has run to its end, so that an app
    // that listens on several addresses in one go is on all of them.
    setTimeout(() => {
      if (builtin("node:worker_threads").isMainThread) {
        if (builtin("node:process").connected) {
          builtin("node:process").send?.(READY_MESSAGE);
        }
      } else {builtin("node:worker_threads").parentPort?.postMessage(
          READY_MESSAGE,
        );}
    }, 0);
    // Neither listener holds the worker open: its own work does that.
    if (builtin("node:worker_threads").isMainThread) {
      builtin("node:process").on(
        "message",
        (m: unknown) => isStop(m) && this.#stop(),
      );
      // A primary that is gone cannot stop us: stop as if it had asked.
      builtin("node:process").once("disconnect", () => {
        this.#stop();
        setTimeout(() => builtin("node:process").exit(0), ORPHAN_GRACE_MS)
          .unref();
      });
      (builtin("node:process").channel as { unref?(): void } | undefined)
        ?.unref?.();
    } else {
      builtin("node:process").on(
        "workerMessage",
        (m: unknown) => isStop(m) && this.#stop(),
      );
    }
  }
}

/** Makes this thread a runner worker: its listeners report to the runner. */
export function installWorker(): void {
  setListenHook(new WorkerHook());
}
