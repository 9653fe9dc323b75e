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
  /** Whether this runtime can bind with `SO_REUSEPORT` on this OS. */
  readonly kernelReusePort: boolean;
  /** Binds and listens synchronously; throws an `errors` class. */
  listen(request: BindRequest): NativeListener;
  /** Resolves a host name synchronously to the IP a listener would bind. */
  resolveListenHost(hostname: string): string;
  /** Connects; resolves names asynchronously. */
  connect(
    hostname: string,
    port: number,
    signal?: AbortSignal,
  ): Promise<NativeStream>;
}
