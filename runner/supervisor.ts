/**
 * The parallel runner's supervisor: runs one module in N worker threads or
 * child processes, restarts a worker that dies, and stops them all
 * gracefully. It runs where connections can move (`Runtime.handles`: Node).
 * In the workers, `listen()` defaults to `loadBalanced: true`
 * (`REUSEPORT_WORKER` is set), so they share their addresses.
 *
 * @module
 */
import { type ChildProcess, fork } from "node:child_process";
import { constants } from "node:os";
import process from "node:process";
import { pathToFileURL } from "node:url";
import * as threads from "node:worker_threads";
import { readSettings, workerEnv } from "../core/settings.ts";
import { NotSupported } from "../core/errors.ts";
import type { Handles } from "../platform/types.ts";
import { startProcessHub } from "../sharing/processes.ts";
import { STOP_MESSAGE } from "../sharing/wire.ts";
import type { ParallelMode, ParallelOptions, ParallelServer } from "./types.ts";

/** A worker that died this soon after starting counts as a crash loop. */
const QUICK_EXIT_MS = 1_000;
const MAX_QUICK_EXITS = 5;
const RESTART_DELAY_MS = 200;
const DEFAULT_GRACE_MS = 5_000;

interface Slot {
  id: number;
  stop(): void;
  kill(): void;
  exited: Promise<number>;
}

function startThread(
  id: number,
  file: string,
  args: string[],
  env: Record<string, string>,
): Slot {
  const worker = new threads.Worker(pathToFileURL(file), {
    argv: args,
    env: { ...process.env, ...env },
  });
  const exited = new Promise<number>((resolve) => {
    worker.on("error", (err) => {
      process.stderr.write(
        `reuseport: worker ${id}: ${err.stack ?? err}\n`,
      );
    });
    worker.once("exit", resolve);
  });
  return {
    id,
    stop: () => {
      threads.postMessageToThread(worker.threadId, STOP_MESSAGE).catch(
        () => {},
      );
    },
    kill: () => void worker.terminate(),
    exited,
  };
}

function startProcess(
  id: number,
  file: string,
  args: string[],
  env: Record<string, string>,
  attach: (child: ChildProcess) => void,
): Slot {
  const child = fork(file, args, {
    env: { ...process.env, ...env },
    // Its own process group: Ctrl-C reaches the primary, which stops the
    // workers in order, instead of killing them mid-request.
    detached: process.platform !== "win32",
    stdio: ["inherit", "inherit", "inherit", "ipc"],
  });
  attach(child);
  const exited = new Promise<number>((resolve) => {
    child.on("error", () => {});
    // Killed by a signal: 128 + its number, as a shell reports it (SIGKILL: 137).
    child.once(
      "exit",
      (code, signal) =>
        resolve(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1)),
    );
  });
  return {
    id,
    stop: () => {
      if (child.connected) child.send(STOP_MESSAGE, () => {});
      else child.kill("SIGTERM");
    },
    kill: () => void child.kill("SIGKILL"),
    exited,
  };
}

/**
 * `auto`: threads where a worker's listener can share the address (Node 24
 * moves sockets between threads; a forced kernel strategy needs no moving),
 * processes elsewhere (the primary passes connections over IPC on any Node).
 */
function resolveMode(
  mode: ParallelMode,
  handles: Handles,
): "threads" | "processes" {
  const threadsWork = handles.threads ||
    readSettings((name) => process.env[name]).strategy === "kernel";
  if (mode === "auto") return threadsWork ? "threads" : "processes";
  if (mode === "threads" && !threadsWork) {
    throw new NotSupported(
      `threads cannot share a socket on Node ${process.version} (Node 24 moves sockets between threads; or force REUSEPORT_STRATEGY=kernel where the kernel balances): use processes`,
    );
  }
  return mode;
}

/** Starts the workers; see `serveParallel()` in `parallel.ts`. */
export async function runParallel(
  handles: Handles,
  options: ParallelOptions,
): Promise<ParallelServer> {
  const { file, workers } = options;
  const mode = resolveMode(options.mode ?? "auto", handles);
  const args = options.args ?? [];
  const report = options.onEvent ?? (() => {});
  const grace = options.graceMs ?? DEFAULT_GRACE_MS;
  const hub = mode === "processes" ? await startProcessHub(handles) : undefined;
  const slots = new Map<number, Slot>();
  let stopping = false;

  const start = (id: number, quickExits: number): void => {
    const env = workerEnv(id, workers, hub?.primary);
    const began = Date.now();
    const slot = mode === "threads"
      ? startThread(id, file, args, env)
      : startProcess(id, file, args, env, (child) => hub!.attach(child));
    slots.set(id, slot);
    report({ type: "start", worker: id });
    slot.exited.then((code) => {
      slots.delete(id);
      report({ type: "exit", worker: id, code });
      if (stopping) return;
      const quick = Date.now() - began < QUICK_EXIT_MS ? quickExits + 1 : 0;
      if (quick >= MAX_QUICK_EXITS) {
        return report({ type: "give-up", worker: id, code });
      }
      report({ type: "restart", worker: id, code });
      setTimeout(() => start(id, quick), RESTART_DELAY_MS);
    });
  };
  for (let id = 1; id <= workers; id++) start(id, 0);

  let finished: Promise<void> | undefined;
  const close = (): Promise<void> => {
    finished ??= (async () => {
      stopping = true;
      const all = [...slots.values()];
      for (const slot of all) slot.stop();
      const timer = setTimeout(() => all.forEach((s) => s.kill()), grace);
      await Promise.all(all.map((s) => s.exited));
      clearTimeout(timer);
      hub?.close();
    })();
    return finished;
  };
  return { mode, workers, close };
}
