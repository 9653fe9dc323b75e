/**
 * The parallel runner's supervisor: runs one module in N worker threads or
 * child processes, restarts a worker that dies, replaces them one at a time
 * on a reload (`reload.ts`), and stops them all gracefully. In the workers,
 * `listen()` defaults to `loadBalanced: true` (their listen hook, from
 * `worker.ts`, says so), so they share their addresses: through the
 * primary's or a thread's socket where connections can move
 * (`Runtime.handles`: Node), each on a socket of its own with the kernel
 * strategy elsewhere (Deno on Linux).
 *
 * @module
 */
import { ENV, workerEnv } from "../core/settings.ts";
import { NotSupported } from "../core/errors.ts";
import { UNIX_THREADS_ADVICE } from "../core/messages.ts";
import type { Handles, Runtime } from "../platform/types.ts";
import { startProcessHub } from "../sharing/processes.ts";
import { type Pool, rollingReload } from "./reload.ts";
import { type Slot, startProcess, startThread, workerPreload } from "./slot.ts";
import type {
  ParallelMode,
  ParallelOptions,
  ParallelReplacement,
  ParallelServer,
} from "./types.ts";

/** A worker that died this soon after starting counts as a crash loop. */
const QUICK_EXIT_MS = 1_000;
const MAX_QUICK_EXITS = 5;
const RESTART_DELAY_MS = 200;
const DEFAULT_GRACE_MS = 5_000;
const DEFAULT_READY_MS = 10_000;

/** The strategy the workers' listeners get, as `parallel.ts` chose it. */
export interface WorkerStrategy {
  strategy: "kernel" | "emulated";
  reason: string;
}

/**
 * `auto`: threads where a worker's listener can share the address (Node 24
 * moves sockets between threads; the kernel strategy needs no moving),
 * processes elsewhere (the primary passes connections over IPC on any Node;
 * on a runtime that cannot, each process binds its own socket).
 */
function resolveMode(
  mode: ParallelMode,
  handles: Handles | undefined,
  strategy: WorkerStrategy,
): "threads" | "processes" {
  if (mode === "auto") return handles?.threads ? "threads" : "processes";
  if (mode === "threads" && !handles) {
    // On Deno a worker thread reads its settings through Deno.env, the
    // process's environment, not the one the runner gives each thread: it
    // would not know it is a worker (and bind alone). Processes do know.
    throw new NotSupported(
      "the parallel runner's threads need a runtime that moves connections between threads (Node 24): use processes",
    );
  }
  if (
    mode === "threads" && !handles?.threads && strategy.strategy !== "kernel"
  ) {
    throw new NotSupported(
      `threads cannot share a socket here: ${handles?.threadsReason} (or force REUSEPORT_STRATEGY=kernel where the kernel balances): use processes`,
    );
  }
  return mode;
}

/**
 * The first of `slots` to exit before it is ready, or undefined once every
 * one is ready.
 */
function firstFailure(slots: Slot[]): Promise<Slot | undefined> {
  return new Promise((resolve) => {
    let waiting = slots.length;
    for (const slot of slots) {
      Promise.race([
        slot.ready.then(() => false),
        slot.exited.then(() => true),
      ]).then((failed) => {
        if (failed) resolve(slot);
        else if (--waiting === 0) resolve(undefined);
      });
    }
  });
}

/**
 * Starts the workers; see `serveParallel()` in `parallel.ts`. Where `auto`
 * chose threads and the module listens on a Unix socket that threads cannot
 * share (Node moves only TCP sockets between threads), it starts processes
 * instead, which share it through the primary.
 */
export async function runParallel(
  rt: Runtime,
  options: ParallelOptions,
  strategy: WorkerStrategy,
): Promise<ParallelServer> {
  const requested = options.mode ?? "auto";
  const mode = resolveMode(requested, rt.handles, strategy);
  try {
    return await startWorkers(rt, options, strategy, mode);
  } catch (err) {
    if (
      requested !== "auto" || mode !== "threads" ||
      !String((err as Error)?.message).includes(UNIX_THREADS_ADVICE)
    ) throw err;
    return await startWorkers(rt, options, strategy, "processes");
  }
}

/** Starts the workers as `mode`. */
async function startWorkers(
  rt: Runtime,
  options: ParallelOptions,
  strategy: WorkerStrategy,
  mode: "threads" | "processes",
): Promise<ParallelServer> {
  const { handles } = rt;
  const { file, workers, signal } = options;
  // Each worker registers the runner's listen hook before its module runs.
  const execArgv = rt.preloadArgs(workerPreload(), mode === "threads");
  const args = options.args ?? [];
  const report = options.onEvent ?? (() => {});
  const grace = options.graceMs ?? DEFAULT_GRACE_MS;
  const readyMs = options.readyMs ?? DEFAULT_READY_MS;
  // Where connections cannot move, every worker binds its own socket.
  const forced: Record<string, string> = handles
    ? {}
    : { [ENV.strategy]: "kernel" };
  const hub = mode === "processes" && handles
    ? await startProcessHub(handles, rt.udp)
    : undefined;
  if (signal?.aborted) {
    hub?.close();
    throw signal.reason;
  }
  /** The worker serving as each number. */
  const slots = new Map<number, Slot>();
  /** Every worker running, serving or not (being replaced, starting). */
  const live = new Set<Slot>();
  let stopping = false;

  /**
   * Starts worker `id`; a `first` one (the runner starting) that fails before
   * it is ready fails the start, which reports it in one line.
   */
  const spawn = (id: number, first = false): Slot => {
    const spec = {
      id,
      file,
      args,
      execArgv,
      env: { ...workerEnv(id, workers, hub?.primary), ...forced },
      holdMs: first ? readyMs : undefined,
    };
    const slot = mode === "threads"
      ? startThread(spec)
      : startProcess(spec, hub && ((child) => hub.attach(child)));
    live.add(slot);
    report({ type: "start", worker: id, pid: slot.pid });
    slot.exited.then((code) => {
      live.delete(slot);
      report({ type: "exit", worker: id, code, pid: slot.pid });
    });
    return slot;
  };

  const adopt = (slot: Slot, quickExits = 0): void => {
    const { id } = slot;
    const began = Date.now();
    slots.set(id, slot);
    slot.exited.then((code) => {
      // Replaced (a reload) or stopping: nothing to restart.
      if (stopping || slots.get(id) !== slot) return;
      slots.delete(id);
      const quick = Date.now() - began < QUICK_EXIT_MS ? quickExits + 1 : 0;
      if (quick >= MAX_QUICK_EXITS) {
        return report({ type: "give-up", worker: id, code, pid: slot.pid });
      }
      report({ type: "restart", worker: id, code, pid: slot.pid });
      setTimeout(() => {
        // A reload may have put a new worker in its place meanwhile.
        if (!stopping && !slots.has(id)) adopt(spawn(id), quick);
      }, RESTART_DELAY_MS);
    });
  };

  const retire = async (slot: Slot): Promise<void> => {
    slot.stop();
    const timer = setTimeout(() => slot.kill(), grace);
    await slot.exited;
    clearTimeout(timer);
  };

  const pool: Pool = {
    workers,
    readyMs,
    get stopping() {
      return stopping;
    },
    report,
    current: (id) => slots.get(id),
    spawn,
    adopt,
    retire,
  };
  let queued: Promise<ParallelReplacement[]> | undefined;
  let last: Promise<unknown> = Promise.resolve();
  const reload = (): Promise<ParallelReplacement[]> => {
    queued ??= last.catch(() => {}).then(() => {
      queued = undefined;
      return rollingReload(pool);
    });
    last = queued;
    return queued;
  };

  let finished: Promise<void> | undefined;
  const close = (): Promise<void> => {
    finished ??= (async () => {
      stopping = true;
      signal?.removeEventListener("abort", abort);
      await Promise.all([...live].map(retire));
      hub?.close();
    })();
    return finished;
  };
  const abort = (): void => void close();
  signal?.addEventListener("abort", abort, { once: true });

  const first = Array.from({ length: workers }, (_, i) => spawn(i + 1, true));
  // Once ready, a worker that dies is restarted; before, it fails the start.
  for (const slot of first) {
    slot.ready.then(() => {
      if (!stopping) adopt(slot);
    });
  }
  const failed = await firstFailure(first);
  if (signal?.aborted) {
    await close();
    throw signal.reason;
  }
  if (failed) {
    // Every worker runs the same module: none is restarted to fail again,
    // and what the others say as they fail too is not shown.
    for (const slot of live) slot.silence();
    await close();
    const why = failed.loadError ??
      `exited with code ${await failed.exited} before it listened`;
    throw new Error(`cannot load ${file}: ${why}`);
  }
  return { mode, workers, strategy, reload, close };
}
