/**
 * One worker of the parallel runner, as a thread or as a child process: how
 * it starts, says it is ready, is stopped, killed, and ends.
 *
 * @module
 */
import { type ChildProcess, fork } from "node:child_process";
import { constants } from "node:os";
import process from "node:process";
import { pathToFileURL } from "node:url";
import * as threads from "node:worker_threads";
import { isReady, STOP_MESSAGE } from "./wire.ts";

/** A running worker. */
export interface Slot {
  /** Its number, 1 to N (`REUSEPORT_WORKER`). */
  readonly id: number;
  /** Its process id (processes) or thread id (threads). */
  readonly pid: number;
  /** Resolves once its first `listen()` is done; never rejects. */
  readonly ready: Promise<void>;
  /** Resolves its exit code (killed by a signal: 128 + the signal's number). */
  readonly exited: Promise<number>;
  /** Asks it to stop gracefully: its listeners close, it ends when done. */
  stop(): void;
  /** Ends it now. */
  kill(): void;
}

/**
 * How to start a worker: the module, its arguments, the runtime's options
 * (`Runtime.preloadArgs`), its extra environment.
 */
export interface SlotSpec {
  id: number;
  file: string;
  args: string[];
  execArgv: string[];
  env: Record<string, string>;
}

/** The module each worker loads before its own (`worker_preload.ts`). */
export function workerPreload(): URL {
  // Beside this file: `.ts` in the source, `.js` in the npm build.
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./worker_preload${ext}`, import.meta.url);
}

/** A worker thread running `spec.file`. */
export function startThread(spec: SlotSpec): Slot {
  const { id, file, args, execArgv, env } = spec;
  const worker = new threads.Worker(pathToFileURL(file), {
    argv: args,
    execArgv,
    env: { ...process.env, ...env },
  });
  const ready = new Promise<void>((resolve) => {
    worker.on("message", (m: unknown) => isReady(m) && resolve());
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
    pid: worker.threadId,
    ready,
    exited,
    stop: () => {
      threads.postMessageToThread(worker.threadId, STOP_MESSAGE).catch(
        () => {},
      );
    },
    kill: () => void worker.terminate(),
  };
}

/** A child process running `spec.file`; `attach` routes its messages to the hub. */
export function startProcess(
  spec: SlotSpec,
  attach?: (child: ChildProcess) => void,
): Slot {
  const { id, file, args, execArgv, env } = spec;
  const child = fork(file, args, {
    execArgv,
    env: { ...process.env, ...env },
    // Its own process group: Ctrl-C reaches the primary, which stops the
    // workers in order, instead of killing them mid-request.
    detached: process.platform !== "win32",
    stdio: ["inherit", "inherit", "inherit", "ipc"],
  });
  attach?.(child);
  const ready = new Promise<void>((resolve) => {
    child.on("message", (m: unknown) => isReady(m) && resolve());
  });
  const exited = new Promise<number>((resolve) => {
    child.on("error", () => {});
    child.once(
      "exit",
      (code, signal) =>
        resolve(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1)),
    );
  });
  return {
    id,
    pid: child.pid ?? 0,
    ready,
    exited,
    stop: () => {
      if (child.connected) child.send(STOP_MESSAGE, () => {});
      else child.kill("SIGTERM");
    },
    kill: () => void child.kill("SIGKILL"),
  };
}
