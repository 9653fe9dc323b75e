/**
 * TCP: `listen`, `connect`, `TcpConn` and `TcpListener`, after the TCP part
 * of Deno's `ext/net/01_net.js`, over the ops of `ops/ops.ts`.
 *
 * @module
 */
import { internalRid } from "../ops/io.ts";
import { acceptTcpSharingAddrs } from "../ops/ops.ts";
import { connectOwn, listenTcpOrOwn } from "../ops/own.ts";
import {
  op_net_connect_tcp,
  op_set_keepalive,
  op_set_nodelay,
} from "../ops/mod.ts";
import type { SocketAddress } from "../ops/mod.ts";
import { type NetAddr, netAddr, unsupportedTransport } from "./addr.ts";
import { Conn, instanceOf } from "./conn.ts";
import { Listener } from "./listener.ts";

/**
 * Options of `listen`, as `Deno.TcpListenOptions`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listen, type TcpListenOptions } from "@reuseport/net";
 *
 * const options: TcpListenOptions = { hostname: "127.0.0.1", port: 0, reusePort: true };
 * const a = listen(options);
 * const b = listen({ ...options, port: a.addr.port }); // shares the port
 * assert.equal(b.addr.port, a.addr.port);
 * a.close();
 * b.close();
 * ```
 */
export interface TcpListenOptions {
  /** Port to listen on; 0 or absent lets the OS choose. Numeric strings are accepted. */
  port?: number;
  /** Address to bind; defaults to `0.0.0.0`. */
  hostname?: string;
  /** Only `"tcp"`. */
  transport?: "tcp";
  /** Let other listeners — in this process or others — share the address; connections are spread across them. */
  reusePort?: boolean;
  /** Share one socket between all listeners of this process on the address (Deno's `serve --parallel` mode). */
  loadBalanced?: boolean;
  /** Kernel backlog of connections not yet accepted; defaults to 511. */
  tcpBacklog?: number;
}

/**
 * Options of `connect`, as `Deno.ConnectOptions`.
 *
 * @example
 * ```ts
 * import { connect, type ConnectOptions, listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * const options: ConnectOptions = {
 *   hostname: "127.0.0.1",
 *   port: listener.addr.port,
 *   signal: AbortSignal.timeout(5_000),
 * };
 * const conn = await connect(options);
 * conn.close();
 * listener.close();
 * ```
 */
export interface ConnectOptions {
  /** Port to connect to, 1–65535. */
  port: number;
  /** Host to connect to; defaults to `127.0.0.1`. */
  hostname?: string;
  /** Only `"tcp"`. */
  transport?: "tcp";
  /** Aborts the connect attempt. */
  signal?: AbortSignal;
}

/**
 * A TCP connection, as `Deno.TcpConn`.
 *
 * @example
 * ```ts
 * import { connect, listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * const conn = await connect({ port: listener.addr.port });
 * conn.setNoDelay();
 * conn.setKeepAlive();
 * conn.close();
 * listener.close();
 * ```
 */
export class TcpConn extends Conn<NetAddr> {
  /**
   * `value instanceof TcpConn`: one of ours, or one of the runtime's own
   * TCP conns (native Deno's, handed out as they are where nothing is
   * emulated).
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return instanceOf(this, TcpConn, "tcpConn", value);
  }

  // The `NetAddr`s, made on first use: most conns are never asked, and the
  // two objects (with the copies they were made from) were about a third
  // of an idle conn. The `Conn` fields hold the addresses they are made of.
  #remote: NetAddr | undefined;
  #local: NetAddr | undefined;

  /**
   * Wraps the stream resource `rid`; made by `connect` and
   * `Listener#accept`. The addresses are read, never written to: they may
   * be the stream's own and its listener's.
   */
  constructor(
    rid: number,
    remoteAddr: SocketAddress,
    localAddr: SocketAddress,
  ) {
    // `Conn` hands them out through the getters below only.
    super(rid, remoteAddr as NetAddr, localAddr as NetAddr);
    // On Deno, over Deno's own conn: Deno's `startTls` takes this one too.
    const internal = internalRid(rid);
    if (internal) {
      Object.defineProperty(this, internal.symbol, { value: internal.rid });
    }
  }

  /** The peer's address. */
  override get remoteAddr(): NetAddr {
    return this.#remote ??= netAddr(super.remoteAddr);
  }

  /** This end's address. */
  override get localAddr(): NetAddr {
    return this.#local ??= netAddr(super.localAddr);
  }

  /** Turns Nagle's algorithm off (`TCP_NODELAY`), or back on with `false`. Returns `null`, as Deno does. */
  setNoDelay(noDelay = true): null {
    return op_set_nodelay(Conn.ridOf(this), noDelay);
  }

  /** Turns TCP keep-alive probes on (`SO_KEEPALIVE`), or off with `false`. Returns `null`, as Deno does. */
  setKeepAlive(keepAlive = true): null {
    return op_set_keepalive(Conn.ridOf(this), keepAlive);
  }
}

/** A TCP listener's accept: the next connection as a `TcpConn`. */
async function acceptTcp(rid: number): Promise<TcpConn> {
  const [connRid, localAddr, remoteAddr] = await acceptTcpSharingAddrs(rid);
  return new TcpConn(connRid, remoteAddr, localAddr);
}

/**
 * `Deno.TcpListener`: a `Listener` of `TcpConn`s.
 *
 * @example
 * ```ts
 * import { listen, type TcpListener } from "@reuseport/net";
 *
 * const listener: TcpListener = listen({ hostname: "127.0.0.1", port: 0 });
 * listener.close();
 * ```
 */
export type TcpListener = Listener<TcpConn, NetAddr>;

/**
 * Listens on a TCP address, synchronously: a taken address throws
 * `errors.AddrInUse` here, and `addr.port` is the real port when 0 was asked
 * for. With `reusePort: true`, other listeners may share the address and
 * connections are spread across them.
 *
 * @example
 * ```ts
 * import { listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * console.log(`listening on ${listener.addr.hostname}:${listener.addr.port}`);
 * listener.close();
 * ```
 */
export function listen(options: TcpListenOptions): TcpListener {
  if ((options.transport ?? "tcp") !== "tcp") {
    throw unsupportedTransport(options.transport);
  }
  const listened = listenTcpOrOwn(
    {
      hostname: options.hostname ?? "0.0.0.0",
      port: options.port ?? 0,
    },
    options.reusePort ?? false,
    options.loadBalanced,
    options.tcpBacklog,
  );
  // Where nothing is emulated, the runtime's own listener, as it is.
  if (!Array.isArray(listened)) return listened as TcpListener;
  const [rid, addr] = listened;
  return new Listener(rid, netAddr(addr), acceptTcp);
}

/**
 * Connects to a TCP address; `hostname` defaults to `127.0.0.1`.
 *
 * @example
 * ```ts
 * import { connect, listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * const conn = await connect({ port: listener.addr.port });
 * console.log(conn.remoteAddr.port === listener.addr.port);
 * conn.close();
 * listener.close();
 * ```
 */
export async function connect(options: ConnectOptions): Promise<TcpConn> {
  if ((options.transport ?? "tcp") !== "tcp") {
    throw unsupportedTransport(options.transport);
  }
  const addr = {
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port,
  };
  const own = connectOwn(addr, { signal: options.signal });
  if (own) return own as Promise<TcpConn>;
  const [rid, localAddr, remoteAddr] = await op_net_connect_tcp(addr, {
    signal: options.signal,
  });
  return new TcpConn(rid, remoteAddr, localAddr);
}
