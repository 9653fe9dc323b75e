/**
 * The one small interface between the ops layer and a JavaScript runtime.
 * `ops/` talks only to these types; `platform/node.ts` and `platform/deno.ts`
 * implement them. Everything a runtime does differently stays behind here.
 *
 * @module
 */

/**
 * An IP address and port, as the OS reports them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_listen_tcp, type SocketAddress } from "@reuseport/net/ops";
 *
 * const [rid, addr]: [number, SocketAddress] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * assert.equal(addr.hostname, "127.0.0.1");
 * close(rid);
 * ```
 */
export interface SocketAddress {
  /** IP literal: `127.0.0.1`, `::1`. */
  hostname: string;
  /** Port number, 0–65535. */
  port: number;
}

/** What to bind: always an IP literal, never a name (names are resolved first). */
export interface BindRequest extends SocketAddress {
  /** Length of the kernel's queue of connections not yet accepted. */
  backlog: number;
  /** Set `SO_REUSEPORT` so that the kernel balances between sockets. */
  reusePort: boolean;
  /**
   * Join the socket shared for this address by other threads or the
   * parallel runner's processes, where the runtime can (the emulated strategy).
   */
  shared?: boolean;
}

/** A bound, listening socket. Accepting is pull-based: one pending call at a time. */
export interface NativeListener {
  /** The address the OS bound (the real port when 0 was asked for). */
  readonly addr: SocketAddress;
  /** The next connection; rejects with an `errors` class. */
  accept(): Promise<NativeStream>;
  /** Whether a pending `accept()` keeps the process alive. */
  setRef(ref: boolean): void;
  /** Closes the socket now (the port is free when this returns). */
  close(): void;
  /**
   * Closes the socket like `close()`, and returns the connections it had
   * accepted that nobody took yet (where the runtime accepts ahead of time),
   * so that a sibling listener can serve them.
   */
  drain?(): NativeStream[];
}

/** A connected TCP stream. */
export interface NativeStream {
  /** This end's address. */
  readonly localAddr: SocketAddress;
  /** The peer's address. */
  readonly remoteAddr: SocketAddress;
  /** Reads into `buf`; resolves the byte count, 0 at end of stream. */
  read(buf: Uint8Array): Promise<number>;
  /** Writes all of `buf`; resolves the byte count once the OS has taken it. */
  write(buf: Uint8Array): Promise<number>;
  /** Shuts down the write side: the peer reads end of stream. */
  shutdown(): Promise<void>;
  /** Closes now; a pending read rejects with `Interrupted`. */
  close(): void;
  /** `TCP_NODELAY`. */
  setNoDelay(on: boolean): void;
  /** `SO_KEEPALIVE`. */
  setKeepAlive(on: boolean): void;
  /** Whether a pending `read()` keeps the process alive. */
  setReadRef(ref: boolean): void;
}

/** The runtime's sockets, as the ops layer uses them. */
export interface Runtime {
  /** `"node"` or `"deno"`: for messages and diagnostics only. */
  readonly name: string;
  /**
   * Whether this runtime can bind with `SO_REUSEPORT` on this OS, where the
   * kernel then balances, and why (or why not).
   */
  kernelSupport(): { supported: boolean; reason: string };
  /** An environment variable, or `undefined` when unset or not readable. */
  env(name: string): string | undefined;
  /** Binds and listens synchronously; throws an `errors` class. */
  listen(request: BindRequest): NativeListener;
  /** Resolves a host name synchronously to the IP a listener would bind. */
  resolveListenHost(hostname: string): string;
  /**
   * Runs a module in parallel workers, or `undefined` where this runtime has
   * no runner (the reason says what to use instead).
   */
  parallel(): {
    run?(options: ParallelOptions): Promise<ParallelServer>;
    reason: string;
  };
  /** Connects; resolves names asynchronously. */
  connect(
    hostname: string,
    port: number,
    signal?: AbortSignal,
  ): Promise<NativeStream>;
}

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
