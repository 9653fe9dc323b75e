/**
 * The parallel runner's rolling reload: every worker in turn is replaced by
 * a new one running the module afresh. The new worker starts beside the old
 * one; once its first `listen()` is done (it says `ready`: its listener has
 * joined the hub's queue, or its `SO_REUSEPORT` socket the kernel's group),
 * the old one is stopped gracefully: its listeners close (what it had been
 * handed and not taken goes back to the hub's queue) and it ends once its
 * connections are done. At every moment some listener serves the address.
 *
 * @module
 */
import type { Slot } from "./slot.ts";
import type { ParallelEvent, ParallelReplacement } from "./types.ts";

/** What `reload.ts` needs of the running workers. */
export interface Pool {
  readonly workers: number;
  /** How long a new worker may take to listen. */
  readonly readyMs: number;
  /** Whether the runner is stopping (a reload ends then). */
  readonly stopping: boolean;
  report(event: ParallelEvent): void;
  /** The worker serving as number `id`, if one runs. */
  current(id: number): Slot | undefined;
  /** Starts a worker for number `id` that does not serve as it yet. */
  spawn(id: number): Slot;
  /** Makes `slot` the worker for its number: restarted when it dies. */
  adopt(slot: Slot): void;
  /** Stops `slot` gracefully, kills it after the grace period; resolves at its exit. */
  retire(slot: Slot): Promise<void>;
}

/** Why a new worker did not take over: it died, or did not listen in time. */
async function takeOver(pool: Pool, fresh: Slot): Promise<string | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    fresh.ready.then(() => undefined),
    fresh.exited.then((code) => `exited with code ${code} before it listened`),
    new Promise<string>((resolve) => {
      timer = setTimeout(
        () => resolve(`did not listen within ${pool.readyMs} ms`),
        pool.readyMs,
      );
    }),
  ]);
  clearTimeout(timer);
  return pool.stopping ? "was stopped: the runner is stopping" : outcome;
}

/**
 * Replaces worker `id`: the replacement, or (the new worker failed, and was
 * killed; the old one serves on) the failure, as an event.
 */
async function replace(
  pool: Pool,
  id: number,
): Promise<ParallelReplacement | ParallelEvent> {
  const old = pool.current(id);
  const fresh = pool.spawn(id);
  const failure = await takeOver(pool, fresh);
  if (failure !== undefined) {
    fresh.kill();
    const code = await fresh.exited;
    const keeps = old
      ? `worker ${id} (${old.pid}) keeps serving`
      : `worker ${id} is not running`;
    const message = `the new worker ${id} (${fresh.pid}) ${failure}; ${keeps}`;
    const type = "reload-failed";
    return { type, worker: id, old: old?.pid, new: fresh.pid, code, message };
  }
  // The worker that serves now: the old one, or what restarted in its place.
  const serving = pool.current(id);
  pool.adopt(fresh);
  pool.report({
    type: "reload",
    worker: id,
    old: serving?.pid,
    new: fresh.pid,
  });
  if (serving) await pool.retire(serving);
  return { worker: id, old: serving?.pid, new: fresh.pid };
}

/**
 * Replaces every worker, one at a time; stops at the first that fails,
 * which keeps its old worker: a `reload-failed` event, and the rejection,
 * say which.
 */
export async function rollingReload(
  pool: Pool,
): Promise<ParallelReplacement[]> {
  const done: ParallelReplacement[] = [];
  for (let id = 1; id <= pool.workers; id++) {
    if (pool.stopping) throw new Error("reload: the runner is stopping");
    const outcome = await replace(pool, id);
    if (!("type" in outcome)) {
      done.push(outcome);
      continue;
    }
    const rest = id === pool.workers
      ? ""
      : `; not reloaded: worker ${id + 1}${
        id + 1 < pool.workers ? ` to ${pool.workers}` : ""
      }`;
    outcome.message = `reload: ${outcome.message}${rest}`;
    pool.report(outcome);
    throw new Error(outcome.message);
  }
  return done;
}
