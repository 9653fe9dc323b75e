/**
 * Listening sockets and their clones, after Deno's `ext/net/tcp.rs`: a
 * process-wide `Connections` map from listen address to one pristine socket,
 * listeners that are clones of it, and the drop logic that frees the address
 * when the last clone goes.
 *
 * Where Deno clones the file descriptor and lets each clone race in the
 * kernel, the clones here share one socket and this module hands each
 * connection to exactly one clone that is waiting in `accept()`, in turn.
 *
 * @module
 */
import { BadResource, Busy } from "../errors.ts";
import {
  type NativeListener,
  type NativeStream,
  runtime,
  type SocketAddress,
  type Strategy,
} from "../platform/mod.ts";
import type { Resource } from "./resources.ts";

interface Waiter {
  listener: TcpListenerResource;
  resolve(stream: NativeStream): void;
  reject(err: Error): void;
}

function listenerClosed(): BadResource {
  return new BadResource("Listener has been closed");
}

/**
 * One listening socket and the listeners that share it. Connections are
 * pulled from the socket only while a listener waits, so what nobody accepts
 * stays in the kernel's backlog.
 */
export class SharedSocket {
  readonly native: NativeListener;
  #key: string | undefined;
  #siblings: string | undefined;
  #listeners = new Set<TcpListenerResource>();
  #waiters: Waiter[] = [];
  /** Accepted while its listener left: handed to the next waiter. */
  #ready: NativeStream[] = [];
  #pumping = false;
  #closed = false;

  constructor(native: NativeListener) {
    this.native = native;
  }

  /** A new listener on this socket. */
  join(): TcpListenerResource {
    const listener = new TcpListenerResource(this);
    this.#listeners.add(listener);
    return listener;
  }

  /** Whether a listener waits in `accept()` on this socket. */
  get waiting(): boolean {
    return this.#waiters.length > 0;
  }

  /** Number of listeners sharing the socket. */
  get size(): number {
    return this.#listeners.size;
  }

  /** Resolves with the next connection for `listener`. */
  wait(listener: TcpListenerResource): Promise<NativeStream> {
    const ready = this.#ready.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ listener, resolve, reject });
      this.updateRef();
      this.#pump();
    });
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    while (this.#waiters.length > 0 && !this.#closed) {
      let stream: NativeStream;
      try {
        stream = await this.native.accept();
      } catch (err) {
        if (!this.#closed) this.#waiters.shift()?.reject(err as Error);
        continue;
      }
      if (this.#closed) {
        stream.close();
        break;
      }
      const waiter = this.#waiters.shift();
      if (waiter) waiter.resolve(stream);
      else this.#ready.push(stream);
      this.updateRef();
    }
    this.#pumping = false;
    if (this.#closed) this.#rejectWaiters();
  }

  /** The socket is referenced while any waiting listener is. */
  updateRef(): void {
    this.native.setRef(this.#waiters.some((w) => w.listener.refed));
  }

  /** Removes `listener`; the last one out closes the socket and frees the address. */
  leave(listener: TcpListenerResource): void {
    if (!this.#listeners.delete(listener)) return;
    if (this.#listeners.size > 0) {
      const index = this.#waiters.findIndex((w) => w.listener === listener);
      if (index >= 0) {
        this.#waiters.splice(index, 1)[0].reject(listenerClosed());
      }
      return this.updateRef();
    }
    this.#closed = true;
    if (this.#key) connections.delete(this.#key, this);
    // With the kernel strategy, what this socket accepted ahead of time would
    // be lost with it: a sibling socket of this process on the address gets it.
    const heir = this.#siblings && connections.heir(this.#siblings, this);
    const orphans = [...this.#ready.splice(0)];
    if (heir && this.native.drain) orphans.push(...this.native.drain());
    else this.native.close();
    for (const stream of orphans) {
      if (heir) heir.adopt(stream);
      else stream.close();
    }
    // A pending native accept holds the socket until it settles (in Deno the
    // port is free only then), so the last waiter hears of the close after it.
    if (!this.#pumping) this.#rejectWaiters();
  }

  #rejectWaiters(): void {
    for (const waiter of this.#waiters.splice(0)) {
      waiter.reject(listenerClosed());
    }
  }

  /** Records the `Connections` key this socket is registered under. */
  registerAs(key: string): void {
    this.#key = key;
  }

  /** Records the kernel-strategy group this socket belongs to. */
  joinSiblings(key: string): void {
    this.#siblings = key;
  }

  /** A connection a closing sibling had accepted: served like one of ours. */
  adopt(stream: NativeStream): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(stream);
    else this.#ready.push(stream);
    this.updateRef();
  }
}

/** A listener in the resource table: one clone of a `SharedSocket`. */
export class TcpListenerResource implements Resource {
  readonly name = "tcpListener";
  readonly socket: SharedSocket;
  refed = true;
  #accepting = false;
  #closed = false;

  constructor(socket: SharedSocket) {
    this.socket = socket;
  }

  /** The bound address. */
  get addr(): SocketAddress {
    return this.socket.native.addr;
  }

  /** The next connection; one call at a time (`Busy` otherwise). */
  async accept(): Promise<NativeStream> {
    if (this.#closed) throw listenerClosed();
    if (this.#accepting) throw new Busy("Another accept task is ongoing");
    this.#accepting = true;
    try {
      return await this.socket.wait(this);
    } finally {
      this.#accepting = false;
    }
  }

  setRef(ref: boolean): void {
    this.refed = ref;
    this.socket.updateRef();
  }

  close(): void {
    this.#closed = true;
    this.socket.leave(this);
  }
}

function addressKey(hostname: string, port: number): string {
  return hostname.includes(":")
    ? `[${hostname}]:${port}`
    : `${hostname}:${port}`;
}

/**
 * The process's shared listening sockets, by address: the `Connections`
 * singleton of Deno's `tcp.rs`. Its one instance is `connections`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Connections, connections } from "@reuseport/net/ops";
 * import { listen } from "@reuseport/net";
 *
 * const registry: Connections = connections;
 * const before = registry.size;
 * const a = listen({ hostname: "127.0.0.1", port: 0, loadBalanced: true });
 * const b = listen({ hostname: "127.0.0.1", port: a.addr.port, loadBalanced: true });
 * assert.equal(registry.size, before + 1); // one shared socket for both
 * a.close();
 * b.close();
 * ```
 */
export class Connections {
  #sockets = new Map<string, SharedSocket>();
  /** Kernel-strategy sockets of this process, by address. */
  #kernel = new Map<string, Set<SharedSocket>>();

  /**
   * A listener on `hostname:port` (an IP literal) with the given strategy.
   * `emulated` joins the socket already shared for that address or starts
   * one; `direct` and `kernel` always bind a socket of their own.
   *
   * @ignore Internal: `op_net_listen_tcp` is the public way in.
   */
  listen(
    hostname: string,
    port: number,
    strategy: Strategy,
    backlog: number,
  ): TcpListenerResource {
    if (strategy === "emulated" && port !== 0) {
      const shared = this.#sockets.get(addressKey(hostname, port));
      if (shared) return shared.join();
    }
    const native = runtime().listen({
      hostname,
      port,
      backlog,
      reusePort: strategy === "kernel",
      shared: strategy === "emulated",
    });
    const socket = new SharedSocket(native);
    if (strategy === "kernel") {
      const key = addressKey(hostname, native.addr.port);
      const group = this.#kernel.get(key) ?? new Set();
      this.#kernel.set(key, group.add(socket));
      socket.joinSiblings(key);
    }
    if (strategy === "emulated") {
      // Keyed by the bound address, so that `listen({ port: 0 })` followed by
      // a listen on the port it got joins, as `SO_REUSEPORT` would.
      const key = addressKey(hostname, native.addr.port);
      this.#sockets.set(key, socket);
      socket.registerAs(key);
    }
    return socket.join();
  }

  /**
   * Takes `socket` out of its kernel group; returns a sibling that stays,
   * preferring one with a listener waiting.
   *
   * @ignore Internal: called by a kernel socket when its last listener closes.
   */
  heir(key: string, socket: SharedSocket): SharedSocket | undefined {
    const group = this.#kernel.get(key);
    group?.delete(socket);
    if (!group?.size) {
      this.#kernel.delete(key);
      return undefined;
    }
    return [...group].find((s) => s.waiting) ?? group.values().next().value;
  }

  /**
   * Forgets `key` if it still maps to `socket`.
   *
   * @ignore Internal: called by the socket when its last listener closes.
   */
  delete(key: string, socket: SharedSocket): void {
    if (this.#sockets.get(key) === socket) this.#sockets.delete(key);
  }

  /** How many shared sockets are open (for tests and diagnostics). */
  get size(): number {
    return new Set(this.#sockets.values()).size;
  }
}

/**
 * The process-wide registry of shared listening sockets.
 *
 * @example
 * ```ts
 * import { connections } from "@reuseport/net/ops";
 *
 * console.log(`${connections.size} shared listening socket(s)`);
 * ```
 */
export const connections: Connections = new Connections();
