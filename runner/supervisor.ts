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

/** Starts the workers; see `serveParallel()` in `parallel.ts`. */
export async function runParallel(
  rt: Runtime,
  options: ParallelOptions,
  strategy: WorkerStrategy,
): Promise<ParallelServer> {
  const { handles } = rt;
  const { file, workers } = options;
  const mode = resolveMode(options.mode ?? "auto", handles, strategy);
  // Each worker registers the runner's listen hook before its module runs.
  const execArgv = rt.preloadArgs(workerPreload(), mode === "threads");
  const args = options.args ?? [];
  const report = options.onEvent ?? (() => {});
  const grace = options.graceMs ?? DEFAULT_GRACE_MS;
  // Where connections cannot move, every worker binds its own socket.
  const forced: Record<string, string> = handles
    ? {}
    : { [ENV.strategy]: "kernel" };
  const hub = mode === "processes" && handles
    ? await startProcessHub(handles)
    : undefined;
  /** The worker serving as each number. */
  const slots = new Map<number, Slot>();
  /** Every worker running, serving or not (being replaced, starting). */
  const live = new Set<Slot>();
  let stopping = false;

  const spawn = (id: number): Slot => {
    const spec = {
      id,
      file,
      args,
      execArgv,
      env: { ...workerEnv(id, workers, hub?.primary), ...forced },
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

  for (let id = 1; id <= workers; id++) adopt(spawn(id));

  const pool: Pool = {
    workers,
    readyMs: options.readyMs ?? DEFAULT_READY_MS,
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
      await Promise.all([...live].map(retire));
      hub?.close();
    })();
    return finished;
  };
  return { mode, workers, strategy, reload, close };
}
