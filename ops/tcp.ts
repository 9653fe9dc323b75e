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
import { AcceptQueue } from "../core/accept_queue.ts";
import { addressKey } from "../core/address.ts";
import { NetError } from "../core/messages.ts";
import type {
  NativeListener,
  NativeStream,
  SocketAddress,
  TlsServerContext,
} from "../platform/types.ts";
import { listenHook } from "./hooks.ts";
import type { Resource } from "./resources.ts";
import { runtime } from "./runtime.ts";
import type { Strategy } from "./strategy.ts";

/**
 * One listening socket and the listeners on it (its clones: one, unless
 * the emulated strategy shares it), on the one accept queue: connections
 * are pulled from the socket only while a listener waits. What nobody
 * asked for waits in the kernel's backlog where the runtime accepts on
 * demand (Deno), or unread in the adapter where it accepts as connections
 * come (libuv, Bun). `A` is its transport's address: TCP's, or a Unix
 * socket's, whose listeners `make` names.
 */
export class ListenSocket<A = SocketAddress> {
  readonly native: NativeListener<A>;
  #queue: AcceptQueue<NativeStream<A>, ListenerResource<A>>;
  #make: (socket: ListenSocket<A>) => ListenerResource<A>;
  #key: string | undefined;
  #siblings: string | undefined;

  constructor(
    native: NativeListener<A>,
    make: (socket: ListenSocket<A>) => ListenerResource<A>,
  ) {
    this.native = native;
    this.#make = make;
    this.#queue = new AcceptQueue(
      { next: () => native.accept(), setRef: (ref) => native.setRef(ref) },
      (stream) => stream.close(),
    );
  }

  /** The listeners on this socket. */
  listeners(): ListenerResource<A>[] {
    return this.#queue.members();
  }

  /** A new listener on this socket. */
  join(): ListenerResource<A> {
    const listener = this.#make(this);
    this.#queue.join(listener);
    return listener;
  }

  /** Whether a listener waits in `accept()` on this socket. */
  get waiting(): boolean {
    return this.#queue.waiting;
  }

  /** Number of listeners sharing the socket. */
  get size(): number {
    return this.#queue.size;
  }

  /** Resolves with the next connection for `listener`. */
  wait(listener: ListenerResource<A>): Promise<NativeStream<A>> {
    return new Promise((resolve, reject) =>
      this.#queue.want(listener, listener.refed, resolve, reject)
    );
  }

  /** `listener`'s pending accept keeps the process alive, or not. */
  setRef(listener: ListenerResource<A>): void {
    this.#queue.setRef(listener, listener.refed);
  }

  /** Removes `listener`; the last one out closes the socket and frees the address. */
  leave(listener: ListenerResource<A>): void {
    if (!this.#queue.leave(listener)) return;
    connections.delete(this.#key, this);
    // With the kernel strategy, what this socket accepted ahead of time would
    // be lost with it: a sibling socket of this process on the address gets it.
    const heir = this.#siblings && connections.heir(this.#siblings, this);
    const orphans = this.#queue.close();
    if (heir && this.native.drain) orphans.push(...this.native.drain());
    else this.native.close();
    for (const stream of orphans) {
      if (heir) heir.adopt(stream);
      else stream.close();
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
  adopt(stream: NativeStream<A>): void {
    this.#queue.offer(stream);
  }
}

/**
 * A listener in the resource table: one clone of a `ListenSocket`, of any
 * stream transport; each transport names its own.
 */
export abstract class ListenerResource<A = SocketAddress> implements Resource {
  abstract readonly name: string;
  readonly socket: ListenSocket<A>;
  refed = true;
  #accepting = false;
  #closed = false;

  constructor(socket: ListenSocket<A>) {
    this.socket = socket;
  }

  /** The bound address. */
  get addr(): A {
    return this.socket.native.addr;
  }

  /**
   * The next connection; one call at a time (`Busy` otherwise). Not
   * `async`: a listener waits in it for as long as it is idle, and a
   * suspended frame with its promise and reactions costs more than `then`.
   */
  accept(): Promise<NativeStream<A>> {
    if (this.#closed) return Promise.reject(NetError.listenerClosed());
    if (this.#accepting) return Promise.reject(NetError.acceptBusy());
    this.#accepting = true;
    return this.socket.wait(this).then(
      (stream) => {
        this.#accepting = false;
        return stream;
      },
      (err) => {
        this.#accepting = false;
        throw err;
      },
    );
  }

  setRef(ref: boolean): void {
    this.refed = ref;
    this.socket.setRef(this);
  }

  close(): void {
    this.#closed = true;
    this.socket.leave(this);
  }
}

/** A TCP listener in the resource table. */
export class TcpListenerResource extends ListenerResource<SocketAddress> {
  readonly name = "tcpListener";
}

/**
 * A socket of any transport, as the registry keeps them: its address type
 * matters only to its own listeners, and the socket types are invariant in it.
 */
// deno-lint-ignore no-explicit-any
type AnyListenSocket = ListenSocket<any>;

/** A TCP socket's listeners. */
const tcpListener = (
  socket: ListenSocket<SocketAddress>,
): TcpListenerResource => new TcpListenerResource(socket);

/** The `Connections` key of a TCP or TLS socket: its transport and address. */
function key(kind: "tcp" | "tls", hostname: string, port: number): string {
  return `${kind} ${addressKey({ hostname, port })}`;
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
  /** Every open socket of this process. */
  #open = new Set<AnyListenSocket>();
  /** Emulated-strategy sockets, by address (a Unix socket's: `unix:<path>`). */
  #sockets = new Map<string, AnyListenSocket>();
  /** Kernel-strategy sockets of this process, by address. */
  #kernel = new Map<string, Set<AnyListenSocket>>();

  /**
   * A listener on `hostname:port` (an IP literal) with the given strategy.
   * `emulated` joins the socket already shared for that address or starts
   * one; `direct` and `kernel` always bind a socket of their own. With
   * `tls`, the runtime's own TLS listener serves it where it can (its
   * connections are TLS streams then); TLS listeners share sockets with
   * TLS listeners only.
   *
   * @ignore Internal: `op_net_listen_tcp` and `op_net_listen_tls` are the public ways in.
   */
  listen(
    hostname: string,
    port: number,
    strategy: Strategy,
    backlog: number,
    tls?: TlsServerContext,
  ): TcpListenerResource {
    const kind = tls ? "tls" : "tcp";
    if (strategy === "emulated" && port !== 0) {
      const shared = this.#sockets.get(key(kind, hostname, port));
      if (shared) return shared.join() as TcpListenerResource;
    }
    const rt = runtime();
    const request = {
      hostname,
      port,
      backlog,
      reusePort: strategy === "kernel",
      shared: strategy === "emulated",
    };
    const native = (tls && rt.tls.listen?.(request, tls)) || rt.listen(request);
    // The runner's worker side (if any) stops the worker by closing them all.
    listenHook()?.listened(() => this.closeAll());
    const socket = new ListenSocket(native, tcpListener);
    this.#open.add(socket);
    // Keyed by the bound address, so that `listen({ port: 0 })` followed by
    // a listen on the port it got joins, as `SO_REUSEPORT` would.
    const bound = key(kind, hostname, native.addr.port);
    if (strategy === "kernel") {
      const group = this.#kernel.get(bound) ?? new Set();
      this.#kernel.set(bound, group.add(socket));
      socket.joinSiblings(bound);
    }
    if (strategy === "emulated") {
      this.#sockets.set(bound, socket);
      socket.registerAs(bound);
    }
    return socket.join() as TcpListenerResource;
  }

  /**
   * A listener on the socket that `bind` binds, for transports other than
   * TCP: with a `key` (a Unix socket's path, when `loadBalanced`), it joins
   * the socket this process already shares under that key, or starts one.
   *
   * @ignore Internal: `op_net_listen_unix` is the public way in.
   */
  listenShared<A>(
    key: string | undefined,
    bind: () => NativeListener<A>,
    make: (socket: ListenSocket<A>) => ListenerResource<A>,
  ): ListenerResource<A> {
    const shared = key === undefined ? undefined : this.#sockets.get(key);
    if (shared) return (shared as ListenSocket<A>).join();
    const socket = new ListenSocket(bind(), make);
    listenHook()?.listened(() => this.closeAll());
    this.#open.add(socket);
    if (key !== undefined) {
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
  heir(
    key: string,
    socket: AnyListenSocket,
  ): AnyListenSocket | undefined {
    const group = this.#kernel.get(key);
    group?.delete(socket);
    if (!group?.size) {
      this.#kernel.delete(key);
      return undefined;
    }
    return [...group].find((s) => s.waiting) ?? group.values().next().value;
  }

  /**
   * Forgets `socket` (and `key`, if it still maps to it).
   *
   * @ignore Internal: called by the socket when its last listener closes.
   */
  delete(key: string | undefined, socket: AnyListenSocket): void {
    this.#open.delete(socket);
    if (key && this.#sockets.get(key) === socket) this.#sockets.delete(key);
  }

  /**
   * Closes every listener of this process: their accepts end with
   * `BadResource`, so accept loops finish; the rids stay until closed.
   *
   * @ignore Internal: the parallel runner's graceful stop.
   */
  closeAll(): void {
    for (const socket of [...this.#open]) {
      for (const listener of socket.listeners()) listener.close();
    }
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
