/**
 * The parallel runner's public types: its options, its events, and the
 * running server.
 *
 * @module
 */

/**
 * How the parallel runner runs its workers.
 *
 * @example
 * ```ts
 * import type { ParallelMode } from "@reuseport/net";
 *
 * const mode: ParallelMode = "processes"; // or "threads", or "auto"
 * console.log(mode);
 * ```
 */
export type ParallelMode = "auto" | "threads" | "processes";

/**
 * Options of the parallel runner.
 *
 * @example
 * ```ts
 * import type { ParallelOptions } from "@reuseport/net";
 *
 * const options: ParallelOptions = { file: "./app.mjs", workers: 2, mode: "auto" };
 * console.log(options.workers);
 * ```
 */
export interface ParallelOptions {
  /** Path of the module each worker runs. */
  file: string;
  /** How many workers. */
  workers: number;
  /** Threads, processes, or `auto`: threads where they can share sockets. */
  mode?: ParallelMode;
  /** Arguments the module sees in `process.argv`. */
  args?: string[];
  /** How long a stopping worker may take before it is killed. Default 5000 ms. */
  graceMs?: number;
  /**
   * How long a reload waits for a new worker's first `listen()` before it
   * counts as failed (the new worker is killed, the old one kept); and how
   * long, at most, a first worker's stderr is held back until it listens
   * (see `serveParallel()`). Default 10000 ms.
   */
  readyMs?: number;
  /**
   * Aborting it stops every worker, as `close()` does; before they are all
   * ready, `serveParallel()` then rejects with the signal's reason.
   */
  signal?: AbortSignal;
  /** Hears of workers starting, exiting, being restarted and replaced. */
  onEvent?(event: ParallelEvent): void;
}

/**
 * Something that happened to a worker.
 *
 * @example
 * ```ts
 * import type { ParallelEvent } from "@reuseport/net";
 *
 * function report(event: ParallelEvent): void {
 *   if (event.type === "restart") console.log(`worker ${event.worker} restarted`);
 *   if (event.type === "reload") console.log(`worker ${event.worker}: ${event.old} -> ${event.new}`);
 * }
 * report({ type: "restart", worker: 2, code: 1, pid: 4242 });
 * report({ type: "reload", worker: 1, old: 4242, new: 4343 });
 * ```
 */
export interface ParallelEvent {
  /**
   * `start`, `exit`, `restart` (after an exit while running), `give-up` (it
   * keeps dying at start); `reload`: worker `old` was replaced by `new`,
   * which listens; `reload-failed`: the new worker `new` died (`code`) or
   * did not listen in time, and `old` keeps serving.
   */
  type: "start" | "exit" | "restart" | "give-up" | "reload" | "reload-failed";
  /** The worker's number, 1 to N (`REUSEPORT_WORKER` inside it). */
  worker: number;
  /** Exit code, for `exit`, `restart`, `give-up`, and `reload-failed` when it died. */
  code?: number;
  /** Process id (processes) or thread id (threads), for `start`, `exit`, `restart`, `give-up`. */
  pid?: number;
  /** For `reload` and `reload-failed`: the worker being replaced (absent when none ran). */
  old?: number;
  /** For `reload` and `reload-failed`: its replacement. */
  new?: number;
  /** For `reload-failed`: what went wrong. */
  message?: string;
}

/**
 * One worker replaced by a reload: its number, the old worker's process id
 * (or thread id) and the new one's.
 *
 * @example
 * ```ts
 * import type { ParallelReplacement } from "@reuseport/net";
 *
 * const change: ParallelReplacement = { worker: 1, old: 4242, new: 4343 };
 * console.log(`worker ${change.worker}: pid ${change.old} -> ${change.new}`);
 * ```
 */
export interface ParallelReplacement {
  /** The worker's number, 1 to N. */
  worker: number;
  /** The replaced worker's process id (or thread id); absent when none was running. */
  old?: number;
  /** The new worker's process id (or thread id). */
  new: number;
}

/**
 * Running workers.
 *
 * @example
 * ```ts
 * import type { ParallelServer } from "@reuseport/net";
 *
 * async function redeploy(server: ParallelServer): Promise<void> {
 *   const changes = await server.reload();
 *   console.log(`${changes.length} of ${server.workers} ${server.mode} replaced`);
 * }
 * async function stop(server: ParallelServer): Promise<void> {
 *   console.log(`stopping ${server.workers} ${server.mode}`);
 *   await server.close();
 * }
 * console.log(typeof redeploy);
 * console.log(typeof stop);
 * ```
 */
export interface ParallelServer {
  /** The mode the workers run in. */
  readonly mode: "threads" | "processes";
  /** How many workers. */
  readonly workers: number;
  /** The strategy the workers' listeners share their addresses with, and why. */
  readonly strategy: { strategy: "kernel" | "emulated"; reason: string };
  /**
   * Rolling reload: replaces the workers one at a time (starts a new one,
   * waits until its first `listen()` is done, then stops the old one
   * gracefully), so that no connection is refused or lost. Resolves the
   * replacements once every worker is new. A new worker that dies at start
   * or does not listen within `readyMs` is killed, the old one keeps
   * serving, the workers after it are left as they are, and the reload
   * rejects with an `Error` saying which (a `reload-failed` event too). A
   * reload asked for while one runs follows it (all asks in between share
   * it). What `kill -HUP` does to `reuseport serve`.
   */
  reload(): Promise<ParallelReplacement[]>;
  /**
   * Stops every worker gracefully (listeners close first); kills after the
   * grace period. One that has not listened yet, which would not hear it,
   * is terminated (`SIGTERM`).
   */
  close(): Promise<void>;
}
