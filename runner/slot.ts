/**
 * One worker of the parallel runner, as a thread or as a child process: how
 * it starts, says it is ready, is stopped, killed, and ends; and, for one of
 * the runner's first workers, why it could not start.
 *
 * @module
 */
import { builtin } from "../platform/builtin.ts";
import type { Buffer } from "node:buffer";
import type { ChildProcess } from "node:child_process";
import type * as threads from "node:worker_threads";
import type { Readable } from "node:stream";
import {
  reportedError,
  withoutPlainError,
} from "../platform/reported_error.ts";
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
  /**
   * With `SlotSpec.holdMs`, once `exited` resolved: the uncaught error it
   * died of before it was ready, in one line (`SyntaxError: Unexpected
   * token ';'`), whose trace was not shown.
   */
  readonly loadError: string | undefined;
  /**
   * Before it is ready, with `SlotSpec.holdMs`: drops what it wrote on
   * stderr and what it writes until it ends (another worker could not load
   * the module, and the runner says so).
   */
  silence(): void;
  /**
   * Asks it to stop gracefully: its listeners close, it ends when done.
   * Before its first `listen()` nothing in it hears the runner: it is
   * terminated (`SIGTERM`, for a process).
   */
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
  /**
   * A worker whose failure before it is ready the runner reports itself, in
   * one line (`Slot.loadError`): until it is ready, for `holdMs` at most,
   * the trace of an uncaught error is not shown (a process's stderr is held
   * back), so that a module that cannot load is not reported once per
   * worker, traces and all.
   */
  holdMs?: number;
}

/** How long, at most, a worker's exit waits for the end of its stderr (a process it started may hold the pipe open). */
const STDERR_END_MS = 500;

/** The module each worker loads before its own (`worker_preload.ts`). */
export function workerPreload(): URL {
  // Beside this file: `.ts` in the source, `.js` in the npm build.
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./worker_preload${ext}`, import.meta.url);
}

/** A worker thread running `spec.file`. */
export function startThread(spec: SlotSpec): Slot {
  const { id, file, args, execArgv, env, holdMs } = spec;
  const worker = new (builtin("node:worker_threads").Worker)(
    builtin("node:url").pathToFileURL(file),
    {
      argv: args,
      execArgv,
      // Bun's Workers take their preload here (they ignore `--preload` in
      // execArgv: the worker never heard of the runner); Node ignores it.
      preload: [builtin("node:url").fileURLToPath(workerPreload())],
      env: { ...builtin("node:process").env, ...env },
      // Its stderr passes through ours here, to be held back (`passStderr`).
      stderr: true,
    } as threads.WorkerOptions,
  );
  const stderr = passStderr(worker.stderr, holdMs);
  let listened = false;
  const ready = new Promise<void>((resolve) => {
    worker.on("message", (m: unknown) => {
      if (!isReady(m)) return;
      listened = true;
      stderr.release();
      resolve();
    });
  });
  let loadError: string | undefined;
  const exited = new Promise<number>((resolve) => {
    // A thread's uncaught error comes here rather than on its stderr.
    let died: string | undefined;
    worker.on("error", (err) => {
      if (stderr.holding()) {
        died ??= errorLine(err);
      } else {
        builtin("node:process").stderr.write(
          `reuseport: worker ${id}: ${err.stack ?? err}\n`,
        );
      }
    });
    worker.once("exit", async (code) => {
      loadError = await stderr.failure(died);
      resolve(code);
    });
  });
  return {
    id,
    pid: worker.threadId,
    ready,
    exited,
    get loadError() {
      return loadError;
    },
    silence: stderr.drop,
    stop: () => {
      if (!listened) return void worker.terminate();
      builtin("node:worker_threads").postMessageToThread(
        worker.threadId,
        STOP_MESSAGE,
      ).catch(
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
  const { id, file, args, execArgv, env, holdMs } = spec;
  const child = builtin("node:child_process").fork(file, args, {
    execArgv,
    env: { ...builtin("node:process").env, ...env },
    // Its own process group: Ctrl-C reaches the primary, which stops the
    // workers in order, instead of killing them mid-request.
    detached: builtin("node:process").platform !== "win32",
    // Its stderr passes through ours, so that the trace of an error it
    // cannot load with can be held back (`passStderr`).
    stdio: ["inherit", "inherit", "pipe", "ipc"],
  });
  attach?.(child);
  const stderr = passStderr(child.stderr!, holdMs);
  let listened = false;
  const ready = new Promise<void>((resolve) => {
    child.on("message", (m: unknown) => {
      if (!isReady(m)) return;
      listened = true;
      stderr.release();
      resolve();
    });
  });
  let loadError: string | undefined;
  let ended = false;
  const exited = new Promise<number>((resolve) => {
    child.on("error", () => {});
    child.once("exit", async (code, signal) => {
      ended = true;
      loadError = await stderr.failure();
      resolve(
        code ??
          (signal
            ? 128 + (builtin("node:os").constants.signals[signal] ?? 0)
            : 1),
      );
    });
  });
  // process.kill, not child.kill: Deno's ChildProcess sends no signal after
  // its first kill() (it takes the child for killed), and stop() may have
  // sent one.
  const sendSignal = (name: NodeJS.Signals): void => {
    if (ended) return;
    try {
      builtin("node:process").kill(child.pid!, name);
    } catch {
      // It is gone already.
    }
  };
  return {
    id,
    pid: child.pid ?? 0,
    ready,
    exited,
    get loadError() {
      return loadError;
    },
    silence: stderr.drop,
    stop: () => {
      if (listened && child.connected) child.send(STOP_MESSAGE, () => {});
      else sendSignal("SIGTERM");
    },
    kill: () => sendSignal("SIGKILL"),
  };
}

/** A worker's stderr, passed on to ours. */
interface PassedStderr {
  /** Whether what it writes is held back (or dropped) now. */
  holding(): boolean;
  /** Writes out what was held back; from now on it passes straight on. */
  release(): void;
  /** Drops what was held back, and what it writes from now on. */
  drop(): void;
  /**
   * At the worker's exit, once its stderr ended: why it failed, if what it
   * wrote was still held back (then dropped): `known` (a thread's error),
   * or else the error its runtime reported there. Otherwise `known`, and
   * what was held is written out.
   */
  failure(known?: string): Promise<string | undefined>;
}

/**
 * Passes `stream` on to our stderr; with `holdMs`, holds it back until
 * `release()` or `holdMs` passed.
 */
function passStderr(stream: Readable, holdMs?: number): PassedStderr {
  let state: "hold" | "drop" | "pass" = holdMs === undefined ? "pass" : "hold";
  const held: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => {
    if (state === "pass") builtin("node:process").stderr.write(chunk);
    else if (state === "hold") held.push(chunk);
  });
  const ended = new Promise<void>((resolve) => stream.once("close", resolve));
  const release = (): void => {
    clearTimeout(timer);
    if (state !== "hold") return;
    state = "pass";
    for (const chunk of held.splice(0)) {
      builtin("node:process").stderr.write(chunk);
    }
  };
  const drop = (): void => {
    clearTimeout(timer);
    if (state !== "hold") return;
    state = "drop";
    held.length = 0;
  };
  const timer = state === "hold" ? setTimeout(release, holdMs) : undefined;
  return {
    holding: () => state !== "pass",
    release,
    drop,
    failure: async (known) => {
      if (state === "pass") return known;
      let waited: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        ended,
        new Promise((resolve) => waited = setTimeout(resolve, STDERR_END_MS)),
      ]);
      clearTimeout(waited);
      const reason = known ??
        reportedError(builtin("node:buffer").Buffer.concat(held).toString());
      if (reason === undefined) release();
      else drop();
      return reason;
    },
  };
}

/** `err` as its stack's first line would say it: `TypeError: boom`. */
function errorLine(err: unknown): string {
  const { name, message } = err instanceof Error
    ? err
    : { name: "Error", message: String(err) };
  return withoutPlainError(`${name}: ${message.split("\n")[0]}`);
}
