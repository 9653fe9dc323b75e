/**
 * Listening sockets on libuv's TCP handle (Node's, or Deno's Node layer's),
 * bound synchronously, and the queue of connections libuv accepted.
 *
 * @module
 */
import { ipFamily } from "../../core/ip.ts";
import { Arrivals } from "../../core/arrivals.ts";
import { uvError } from "../errno.ts";
import type {
  BindRequest,
  NativeListener,
  NativeStream,
  RawConnection,
  RawListener,
  SocketAddress,
} from "../types.ts";
import { loadTcpWrap, type TcpHandle } from "./binding.ts";
// Aliased: `release()` is also this file's RawAcceptor method.
import { hold as holdLoop, release as releaseLoop } from "../loop_hold.ts";

/** Binds and listens; throws Deno's class for the errno. */
export function bindTcp(
  { hostname, port, backlog, reusePort }: BindRequest,
): { handle: TcpHandle; addr: SocketAddress } {
  const { TCP, constants } = loadTcpWrap();
  const handle = new TCP(constants.SERVER);
  const flags = reusePort ? constants.UV_TCP_REUSEPORT ?? 0 : 0;
  const out: Record<string, unknown> = {};
  let status: number;
  try {
    status = ipFamily(hostname) === 6
      ? handle.bind6(hostname, port, flags)
      : handle.bindWithFlags
      ? handle.bindWithFlags(hostname, port, flags)
      : handle.bind(hostname, port, flags);
    if (status === 0) status = handle.listen(backlog);
    if (status === 0) status = handle.getsockname(out);
  } catch (err) {
    // Deno's Node layer throws where libuv returns a status (a backlog that
    // is not an i32, say): the handle must not outlive the error either way.
    handle.close();
    throw err;
  }
  if (status !== 0) {
    handle.close();
    throw uvError(status);
  }
  return {
    handle,
    addr: { hostname: String(out.address), port: Number(out.port) },
  };
}

/** Takes the next connection where the handle wants a client handle to fill. */
function acceptInto(handle: TcpHandle): TcpHandle | undefined {
  if (!handle.accept) return undefined;
  const { TCP, constants } = loadTcpWrap();
  const client = new TCP(constants.SOCKET);
  return handle.accept(client) === 0 ? client : undefined;
}

/**
 * The connections of a listening handle (TCP, or a pipe with `A` its
 * address), one `next()` at a time. Node cannot pause accepting (libuv
 * accepts before JavaScript hears of it), so connections nobody asked for
 * wait here as raw handles that read nothing.
 */
export class RawAcceptor<A = SocketAddress> implements RawListener<A> {
  readonly addr: A;
  readonly handle: TcpHandle;
  #arrivals = new Arrivals<RawConnection>();
  #held = false;

  constructor(handle: TcpHandle, addr: A) {
    this.handle = handle;
    this.addr = addr;
    handle.onconnection = (status, given) => {
      // Node passes the accepted handle; Deno's Node layer has it fetched.
      const client = given ?? (status === 0 ? acceptInto(handle) : undefined);
      this.#arrivals.push(status < 0 || !client ? uvError(status) : client);
    };
    // The loop is held by `hold()` while an accept is wanted, never by the
    // handle: the accept queue asks on every accept, and holding is then
    // JavaScript bookkeeping instead of two binding calls.
    handle.unref();
  }

  /** The next connection (or accept error); `BadResource` once closed. */
  next(): Promise<RawConnection> {
    return this.#arrivals.next();
  }

  setRef(ref: boolean): void {
    if (ref === this.#held || (ref && this.#arrivals.closed)) return;
    this.#held = ref;
    if (ref) holdLoop();
    else releaseLoop();
  }

  /** Closes the socket and every connection still queued. */
  close(): void {
    for (const raw of this.drain()) (raw as TcpHandle).close();
  }

  /** Closes the socket; returns the connections still queued. */
  drain(): RawConnection[] {
    if (this.#arrivals.closed) return [];
    const queued = this.#stop();
    this.handle.close();
    return queued;
  }

  /**
   * Stops accepting without closing, so that the socket can move to another
   * thread; returns it with the connections still queued.
   */
  release(): { handle: object; queued: RawConnection[] } {
    return { handle: this.handle, queued: this.#stop() };
  }

  #stop(): RawConnection[] {
    this.setRef(false);
    this.handle.onconnection = null;
    return this.#arrivals.close();
  }
}

/**
 * Whether every connection accepted on `addr` has it as its local address:
 * the listener is bound to one IP, not to a wildcard.
 */
function boundToOne({ hostname }: SocketAddress): boolean {
  return hostname !== "0.0.0.0" && hostname !== "::";
}

/**
 * A listening TCP handle of this thread's own, as a `NativeListener`: Node's,
 * and Deno's Node layer's (the kernel strategy on Deno).
 */
export class HandleListener implements NativeListener {
  readonly addr: SocketAddress;
  #acceptor: RawAcceptor;
  #wrap: (raw: RawConnection) => NativeStream;

  /**
   * `wrap` makes a stream of an accepted handle; it gets the local address
   * when the listener knows it (bound to one IP), which spares a
   * `getsockname` per connection.
   */
  constructor(
    acceptor: RawAcceptor,
    wrap: (raw: RawConnection, localAddr?: SocketAddress) => NativeStream,
  ) {
    this.#acceptor = acceptor;
    this.addr = acceptor.addr;
    const local = boundToOne(this.addr) ? this.addr : undefined;
    this.#wrap = (raw) => wrap(raw, local);
  }

  accept(): Promise<NativeStream> {
    return this.#acceptor.next().then(this.#wrap);
  }

  setRef(ref: boolean): void {
    this.#acceptor.setRef(ref);
  }

  close(): void {
    this.#acceptor.close();
  }

  drain(): NativeStream[] {
    return this.#acceptor.drain().map(this.#wrap);
  }
}
