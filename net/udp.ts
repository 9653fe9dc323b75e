/**
 * UDP: `listenDatagram` and `DatagramConn`, after the datagram part of
 * Deno's `ext/net/01_net.js`, over the ops of `ops/ops_udp.ts`; with
 * `reusePort`, which Deno's has not.
 *
 * @module
 */
import {
  close,
  op_net_join_multi_v4_udp,
  op_net_join_multi_v6_udp,
  op_net_leave_multi_v4_udp,
  op_net_leave_multi_v6_udp,
  op_net_listen_udp,
  op_net_send_udp,
  op_net_set_multi_loopback_udp,
  op_net_set_multi_ttl_udp,
  recvUdp,
  recvUdpInto,
  setRef,
  type SocketAddress,
} from "../ops/mod.ts";
import { BadResource, Interrupted } from "../core/errors.ts";
import { unsupportedTransport } from "./addr.ts";
import { isOwn, listenDatagramOwn } from "../ops/own.ts";
import {
  listenDatagramUnix,
  type UnixDatagramConn,
  type UnixDatagramOptions,
} from "./unix.ts";

/** The largest UDP payload over IPv4, and what `receive()` reads at most by default (Deno's). */
const UDP_DGRAM_MAXSIZE = 65507;

/**
 * A UDP address, as `Deno.NetAddr` with `transport: "udp"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenDatagram, type UdpAddr } from "@reuseport/net";
 *
 * const conn = listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
 * const addr: UdpAddr = conn.addr;
 * assert.equal(addr.transport, "udp");
 * conn.close();
 * ```
 */
export interface UdpAddr {
  /** Always `"udp"`. */
  transport: "udp";
  /** IP literal. */
  hostname: string;
  /** Port number. */
  port: number;
}

/**
 * Options of `listenDatagram` for UDP, as `Deno.UdpListenOptions`, and
 * `reusePort`.
 *
 * @example
 * ```ts
 * import { listenDatagram, type UdpListenOptions } from "@reuseport/net";
 *
 * const options: UdpListenOptions = { transport: "udp", hostname: "127.0.0.1", port: 0 };
 * listenDatagram(options).close();
 * ```
 */
export interface UdpListenOptions {
  /** `"udp"`; `"unixpacket"` takes `UnixDatagramOptions`. */
  transport: "udp";
  /** Port to bind; 0 or absent lets the OS choose. */
  port?: number;
  /** Address to bind; defaults to `0.0.0.0`. */
  hostname?: string;
  /** `SO_REUSEADDR`: bind an address another socket holds (with it too). On Linux the last one bound gets unicast datagrams; multicast reaches all. */
  reuseAddress?: boolean;
  /** Whether multicast datagrams this socket sends loop back to it. Default `false`. */
  loopback?: boolean;
  /**
   * Beyond Deno: let other sockets — in this process or, with the kernel
   * strategy, others — share the address, each datagram received by exactly
   * one of them (the kernel's `SO_REUSEPORT` by flow, or one shared socket
   * whose datagrams go to the receives that wait, in turn).
   */
  reusePort?: boolean;
}

/**
 * A multicast group joined with `joinMulticastV4`, as Deno's.
 *
 * @example
 * ```ts
 * import { listenDatagram, type MulticastV4Membership } from "@reuseport/net";
 *
 * const conn = listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
 * const membership: MulticastV4Membership = await conn.joinMulticastV4("224.0.0.251", "127.0.0.1");
 * await membership.setTTL(4);
 * await membership.leave();
 * conn.close();
 * ```
 */
export interface MulticastV4Membership {
  /** Leaves the group. */
  leave(): Promise<void>;
  /** Whether datagrams sent to the group loop back to this host. */
  setLoopback(loopback: boolean): Promise<void>;
  /** The TTL of datagrams sent to the group. */
  setTTL(ttl: number): Promise<void>;
}

/**
 * A multicast group joined with `joinMulticastV6`, as Deno's.
 *
 * @example
 * ```ts
 * import { listenDatagram, type MulticastV6Membership } from "@reuseport/net";
 *
 * const conn = listenDatagram({ transport: "udp", hostname: "::1", port: 0 });
 * const membership: MulticastV6Membership = await conn.joinMulticastV6("ff02::fb", 0);
 * await membership.leave();
 * conn.close();
 * ```
 */
export interface MulticastV6Membership {
  /** Leaves the group. */
  leave(): Promise<void>;
  /** Whether datagrams sent to the group loop back to this host. */
  setLoopback(loopback: boolean): Promise<void>;
}

/** An op's `null` as the `Promise<void>` Deno's types declare (the value stays `null`, as Deno's). */
function settled(op: Promise<null>): Promise<void> {
  return op as Promise<unknown> as Promise<void>;
}

/** What `receive(p)` resolves: typed as Deno types it, a view of `p` whatever buffer that has. */
function received(
  p: Uint8Array,
  n: number,
  from: SocketAddress,
): [Uint8Array<ArrayBuffer>, UdpAddr] {
  return [p.subarray(0, n) as Uint8Array<ArrayBuffer>, udpAddr(from)];
}

/** What `receive()` resolves with no buffer given: the datagram's own bytes. */
function receivedOwn(
  data: Uint8Array<ArrayBuffer>,
  from: SocketAddress,
): [Uint8Array<ArrayBuffer>, UdpAddr] {
  return [data, udpAddr(from)];
}

function udpAddr(addr: SocketAddress): UdpAddr {
  return { hostname: addr.hostname, port: addr.port, transport: "udp" };
}

/**
 * A UDP socket, as `Deno.DatagramConn`: `receive()`, `send()`, `for await`,
 * multicast, `ref()` / `unref()`, `close()`.
 *
 * @example An echo
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenDatagram } from "@reuseport/net";
 *
 * const server = listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
 * const client = listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
 * await client.send(new TextEncoder().encode("ping"), server.addr);
 * const [data, from] = await server.receive();
 * await server.send(data, from);
 * const [echo] = await client.receive();
 * assert.equal(new TextDecoder().decode(echo), "ping");
 * client.close();
 * server.close();
 * ```
 */
export class DatagramConn
  implements AsyncIterable<[Uint8Array<ArrayBuffer>, UdpAddr]> {
  /**
   * `value instanceof DatagramConn`: one of ours, or the runtime's own
   * (native Deno's with `--unstable-net`, handed out as it is where nothing
   * is emulated).
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, value) ||
      (this === DatagramConn && isOwn("datagramConn", value));
  }

  #rid: number;
  #addr: UdpAddr;
  /** Bytes `receive()` keeps of a datagram when given no buffer (Deno's field). */
  bufSize: number;

  /** Wraps the `udpSocket` resource `rid`; made by `listenDatagram`. */
  constructor(rid: number, addr: UdpAddr, bufSize = UDP_DGRAM_MAXSIZE) {
    this.#rid = rid;
    this.#addr = addr;
    this.bufSize = bufSize;
  }

  /** The address the socket is bound to. */
  get addr(): UdpAddr {
    return this.#addr;
  }

  /** Joins the IPv4 multicast group `addr` on the interface with the address `multiInterface`. */
  async joinMulticastV4(
    addr: string,
    multiInterface: string,
  ): Promise<MulticastV4Membership> {
    const rid = this.#rid;
    await op_net_join_multi_v4_udp(rid, addr, multiInterface);
    return {
      leave: () =>
        settled(op_net_leave_multi_v4_udp(rid, addr, multiInterface)),
      setLoopback: (loopback: boolean) =>
        settled(op_net_set_multi_loopback_udp(rid, true, loopback)),
      setTTL: (ttl: number) => settled(op_net_set_multi_ttl_udp(rid, ttl)),
    };
  }

  /** Joins the IPv6 multicast group `addr` on the interface with index `multiInterface` (0: any). */
  async joinMulticastV6(
    addr: string,
    multiInterface: number,
  ): Promise<MulticastV6Membership> {
    const rid = this.#rid;
    await op_net_join_multi_v6_udp(rid, addr, multiInterface);
    return {
      leave: () =>
        settled(op_net_leave_multi_v6_udp(rid, addr, multiInterface)),
      setLoopback: (loopback: boolean) =>
        settled(op_net_set_multi_loopback_udp(rid, false, loopback)),
    };
  }

  /**
   * The next datagram and its sender. Into `p` when given (a longer
   * datagram is cut to it; the result is a view of `p`), else into a new
   * array of at most `bufSize` bytes. Rejects with `BadResource` once
   * closed, `Interrupted` when closed while it waits.
   */
  receive(p?: Uint8Array): Promise<[Uint8Array<ArrayBuffer>, UdpAddr]> {
    // No async function here: a receive loop runs this per datagram.
    if (p) {
      // The result made as the datagram is copied: one promise, one tuple.
      return recvUdpInto(this.#rid, p, received);
    }
    return recvUdp(this.#rid, this.bufSize, receivedOwn);
  }

  /**
   * Sends `p` as one datagram to `opts` (`hostname` defaults to
   * `127.0.0.1`); resolves the bytes sent. Typed to take any `Deno.Addr`,
   * as Deno's: one without a port rejects with Deno's `TypeError`.
   */
  send(
    p: Uint8Array,
    opts: { hostname?: string; port?: number; transport?: string },
  ): Promise<number> {
    // No async function here: an echo sends per datagram; the op's promise
    // is the one returned.
    let addr: { hostname: string; port: number };
    try {
      addr = { hostname: opts.hostname ?? "127.0.0.1", port: opts.port! };
    } catch (err) {
      return Promise.reject(err);
    }
    return op_net_send_udp(this.#rid, addr, p);
  }

  /** Closes the socket; a pending `receive()` rejects with `Interrupted`. */
  close(): void {
    close(this.#rid);
  }

  /** A pending `receive()` keeps the process alive (the default). */
  ref(): void {
    setRef(this.#rid, true);
  }

  /** A pending `receive()` does not keep the process alive. */
  unref(): void {
    setRef(this.#rid, false);
  }

  /** Datagrams until the socket is closed. */
  async *[Symbol.asyncIterator](): AsyncGenerator<
    [Uint8Array<ArrayBuffer>, UdpAddr]
  > {
    while (true) {
      try {
        yield await this.receive();
      } catch (err) {
        if (err instanceof BadResource || err instanceof Interrupted) break;
        throw err;
      }
    }
  }
}

// UDP's overload comes last: `Parameters<typeof listenDatagram>` (which
// takes the last) stays UDP's options, as before "unixpacket" came.

/**
 * A Unix datagram socket, as `Deno.listenDatagram({ transport: "unixpacket" })`.
 *
 * @example
 * ```ts
 * import { errors, listenDatagram } from "@reuseport/net";
 *
 * try {
 *   const socket = listenDatagram({ transport: "unixpacket" }); // bound to no name
 *   console.log(socket.addr.path); // null
 *   socket.close();
 * } catch (err) {
 *   // Node and Bun have no Unix datagram sockets; Deno needs --unstable-net.
 *   if (!(err instanceof errors.NotSupported)) throw err;
 * }
 * ```
 */
export function listenDatagram(options: UnixDatagramOptions): UnixDatagramConn;
/**
 * Binds a datagram socket, synchronously: a taken address throws
 * `errors.AddrInUse` here, and `addr.port` is the real port when 0 was asked
 * for. With `reusePort: true`, other UDP sockets may share the address and
 * each datagram goes to one of them. `transport: "unixpacket"` is a Unix
 * datagram socket (`listenDatagramUnix`), as in Deno's `listenDatagram`:
 * Deno's own on Deno (with `--unstable-net`), `errors.NotSupported` saying
 * why on Node and Bun, which have none.
 *
 * @example
 * ```ts
 * import { listenDatagram } from "@reuseport/net";
 *
 * const conn = listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
 * console.log(`udp on ${conn.addr.hostname}:${conn.addr.port}`);
 * conn.close();
 * ```
 */
export function listenDatagram(options: UdpListenOptions): DatagramConn;
/**
 * Either of the above, by `options.transport`: `"udp"` or `"unixpacket"`
 * (any other is a `TypeError`, as in Deno).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenDatagram } from "@reuseport/net";
 *
 * assert.throws(() => listenDatagram({ transport: "tcp" } as never), TypeError);
 * ```
 */
export function listenDatagram(
  options: UdpListenOptions | UnixDatagramOptions,
): DatagramConn | UnixDatagramConn {
  switch (options.transport) {
    case "udp": {
      const hostPort = {
        hostname: options.hostname ?? "0.0.0.0",
        port: options.port ?? 0,
      };
      const reuseAddress = options.reuseAddress ?? false;
      const loopback = options.loopback ?? false;
      const reusePort = options.reusePort ?? false;
      // Where nothing is emulated, the runtime's own socket, as it is.
      const own = listenDatagramOwn(
        hostPort,
        reuseAddress,
        loopback,
        reusePort,
      );
      if (own) return own as DatagramConn;
      const [rid, addr] = op_net_listen_udp(
        hostPort,
        reuseAddress,
        loopback,
        reusePort,
      );
      return new DatagramConn(rid, udpAddr(addr));
    }
    case "unixpacket":
      return listenDatagramUnix(options);
    default:
      throw unsupportedTransport((options as { transport: unknown }).transport);
  }
}
