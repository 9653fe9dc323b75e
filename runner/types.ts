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
  /** Hears of workers starting, exiting and being restarted. */
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
 * }
 * report({ type: "restart", worker: 2, code: 1 });
 * ```
 */
export interface ParallelEvent {
  /** `start`, `exit`, `restart` (after an exit while running), `give-up` (it keeps dying at start). */
  type: "start" | "exit" | "restart" | "give-up";
  /** The worker's number, 1 to N (`REUSEPORT_WORKER` inside it). */
  worker: number;
  /** Exit code, for `exit`, `restart` and `give-up`. */
  code?: number;
}

/**
 * Running workers.
 *
 * @example
 * ```ts
 * import type { ParallelServer } from "@reuseport/net";
 *
 * async function stop(server: ParallelServer): Promise<void> {
 *   console.log(`stopping ${server.workers} ${server.mode}`);
 *   await server.close();
 * }
 * console.log(typeof stop);
 * ```
 */
export interface ParallelServer {
  /** The mode the workers run in. */
  readonly mode: "threads" | "processes";
  /** How many workers. */
  readonly workers: number;
  /** Stops every worker gracefully (listeners close first); kills after the grace period. */
  close(): Promise<void>;
}
