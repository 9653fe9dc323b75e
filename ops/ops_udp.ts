/**
 * The UDP ops, with the names and shapes of Deno's `ext/net/ops.rs`, over
 * the resource table: one `udpSocket` resource per `listenDatagram`.
 * Several resources can share one socket (the emulated `reusePort`): each
 * datagram goes to exactly one receive waiting on any of them
 * (`core/datagram_queue.ts`).
 *
 * @module
 */
import { ipFamily } from "../core/ip.ts";
import { builtin } from "../platform/builtin.ts";
import {
  DatagramQueue,
  DEFAULT_DATAGRAM_LIMITS,
} from "../core/datagram_queue.ts";
import { NotSupported } from "../core/errors.ts";
import { NetError } from "../core/messages.ts";
import { osError } from "../platform/errno.ts";
import type {
  Datagram,
  NativeDatagramSocket,
  Runtime,
  SocketAddress,
  Udp,
} from "../platform/types.ts";
import { literalAddress, validateHostname, validatePort } from "./_validate.ts";
import { listenHook } from "./hooks.ts";
import { type Resource, resourceTable } from "./resources.ts";
import { runtime } from "./runtime.ts";
import { chooseStrategy, type StrategyChoice } from "./strategy.ts";

/** One bound UDP socket and the resources that receive from it. */
class SharedDatagramSocket {
  readonly socket: NativeDatagramSocket;
  readonly queue: DatagramQueue<Datagram, UdpSocketResource>;
  readonly members = new Set<UdpSocketResource>();
  /** The key in `emulated` while other listens may join it. */
  #key: string | undefined;
  /**
   * Members that are unref'd: while none is, a waiting receive is a
   * referenced one, with no look at who waits (per datagram, twice).
   */
  unrefed = 0;

  constructor(
    bind: (onDatagram: (d: Datagram) => void) => NativeDatagramSocket,
    shared: boolean,
  ) {
    this.queue = new DatagramQueue(
      DEFAULT_DATAGRAM_LIMITS,
      () => this.updateRef(),
    );
    this.socket = bind((d) => this.queue.push(d, d.data.byteLength));
    if (shared) {
      this.#key = addressKey(this.socket.addr.hostname, this.socket.addr.port);
      emulated.set(this.#key, this);
    }
  }

  /**
   * Tells the socket how many receives wait, and whether a referenced one
   * does (a shared socket's member asks its owner for that many datagrams).
   */
  updateRef(): void {
    const receives = this.queue.waiting;
    this.socket.setDemand(
      receives > 0,
      receives > 0 &&
        (this.unrefed === 0 || this.queue.someWaiting(isRefed)),
      receives,
    );
  }

  leave(member: UdpSocketResource): void {
    if (!this.members.delete(member)) return;
    if (!member.refed) this.unrefed--;
    open.delete(member);
    this.queue.cancel(member, NetError.canceled);
    if (this.members.size > 0) return;
    if (this.#key !== undefined) emulated.delete(this.#key);
    this.socket.close(this.queue.clear());
  }
}

function isRefed(member: UdpSocketResource): boolean {
  return member.refed;
}

/** Sockets of the emulated `reusePort`, by address: later listens join them. */
const emulated = new Map<string, SharedDatagramSocket>();

/** The resources whose socket is open, for the parallel runner's stop. */
const open = new Set<UdpSocketResource>();

/** How long a stopping worker's UDP sockets still send (the answers to what it received). */
const STOP_GRACE_MS = 200;

/**
 * The parallel runner's graceful stop: every UDP resource stops receiving
 * (pending receives end with `Interrupted`, later ones with `BadResource`,
 * so receive loops finish) and its socket closes a moment later, so that
 * the answer to a datagram already received still goes out; what arrived
 * meanwhile goes back to a shared socket's owner. The rids stay until
 * closed.
 */
function closeAll(): void {
  const stopping = [...open];
  for (const resource of stopping) resource.stopReceiving();
  setTimeout(() => {
    for (const resource of stopping) resource.close();
  }, STOP_GRACE_MS);
}

function addressKey(ip: string, port: number): string {
  return `${ip}|${port}`;
}

/**
 * A `listenDatagram` in the resource table (Deno's `UdpSocketResource`,
 * named `udpSocket`): one member of a socket, alone on it or sharing it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_listen_udp, resources } from "@reuseport/net/ops";
 *
 * const [rid] = op_net_listen_udp({ hostname: "127.0.0.1", port: 0 }, false, false);
 * assert.equal(resources()[rid], "udpSocket");
 * close(rid);
 * ```
 */
export class UdpSocketResource implements Resource {
  readonly name = "udpSocket";
  /** The socket, and its other members if it is shared. */
  readonly shared: SharedDatagramSocket;
  /** Whether this member's waiting receives keep the process alive. */
  refed = true;
  /** Whether it still receives (the runner's stop ends that before it closes). */
  receiving = true;

  /** Joins `shared` as a member. */
  constructor(shared: SharedDatagramSocket) {
    this.shared = shared;
    shared.members.add(this);
    open.add(this);
  }

  /** Whether its socket is still open (the runner's stop closes it before its rid). */
  get isOpen(): boolean {
    return this.shared.members.has(this);
  }

  close(): void {
    this.shared.leave(this);
  }

  /** Ends this member's receiving: its pending receives are interrupted. */
  stopReceiving(): void {
    this.receiving = false;
    this.shared.queue.cancel(this, NetError.canceled);
  }

  setRef(ref: boolean): void {
    if (ref !== this.refed) this.shared.unrefed += ref ? -1 : 1;
    this.refed = ref;
    this.shared.updateRef();
  }
}

/** This runtime's UDP, or `NotSupported`. */
function udpOf(rt: Runtime): Udp {
  if (!rt.udp) {
    throw new NotSupported(`UDP is not available on ${rt.name}`);
  }
  return rt.udp;
}

/**
 * The strategy of a UDP listen, by the rules of `listen()`'s
 * (`ops/strategy.ts`), with UDP's own kernel support. A parallel runner's
 * worker gets no default sharing: a UDP socket shares only with
 * `reusePort` (a client's socket on port 0 would otherwise go through the
 * runner).
 */
function udpStrategy(rt: Runtime, reusePort: boolean): StrategyChoice {
  const udp = udpOf(rt);
  const view: Runtime = { ...rt, kernelSupport: () => udp.kernelSupport() };
  return chooseStrategy(view, reusePort, undefined, false);
}

/**
 * The strategy `listenDatagram()` uses for these options here, and why:
 * `direct`, `kernel` (`SO_REUSEPORT`: the kernel spreads datagrams by flow)
 * or `emulated` (one shared socket, datagrams to the receives that wait).
 * Throws `NotSupported` when `REUSEPORT_STRATEGY=kernel` is forced where
 * the kernel cannot balance UDP.
 *
 * @example
 * ```ts
 * import { udpStrategyFor } from "@reuseport/net/ops";
 *
 * const { strategy, reason } = udpStrategyFor({ reusePort: true });
 * console.log(`UDP reusePort here: ${strategy} (${reason})`);
 * ```
 */
export function udpStrategyFor(
  options: { reusePort?: boolean },
): StrategyChoice {
  return udpStrategy(runtime(), options.reusePort ?? false);
}

/** The resource at `rid` if it still receives, else `BadResource: Socket has been closed`. */
function receiverOf(rid: number): UdpSocketResource {
  const member = memberOf(rid);
  if (!member.receiving) throw NetError.socketClosed();
  return member;
}

/** The resource at `rid`, or Deno's `BadResource: Socket has been closed`. */
function memberOf(rid: number): UdpSocketResource {
  const resource = resourceTable.find(rid);
  if (resource instanceof UdpSocketResource && resource.isOpen) return resource;
  throw NetError.socketClosed();
}

/**
 * Binds a UDP socket before it returns (a taken address throws `AddrInUse`
 * here; port 0 comes back as the port the OS chose), with Deno's defaults:
 * broadcast allowed, multicast loopback as `loopback` says. `reusePort`
 * (ours, beyond Deno) lets other sockets share the address: the kernel's
 * `SO_REUSEPORT` or, where the kernel cannot balance, one socket whose
 * datagrams go to the receives that wait on any of its members.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_listen_udp } from "@reuseport/net/ops";
 *
 * const [rid, addr] = op_net_listen_udp({ hostname: "127.0.0.1", port: 0 }, false, false);
 * assert(addr.port > 0);
 * close(rid);
 * ```
 */
export function op_net_listen_udp(
  addr: { hostname: string; port: number },
  reuseAddress: boolean,
  loopback: boolean,
  reusePort = false,
): [number, SocketAddress] {
  const port = validatePort(addr.port);
  const host = validateHostname(String(addr.hostname));
  const rt = runtime();
  const udp = udpOf(rt);
  const ip = literalAddress(host) ?? rt.resolveListenHost(host);
  const strategy = udpStrategy(rt, Boolean(reusePort)).strategy;
  const request = {
    hostname: ip,
    port,
    reuseAddress: Boolean(reuseAddress),
    loopback: Boolean(loopback),
    reusePort: strategy === "kernel",
    shared: strategy === "emulated",
  };
  const existing = strategy === "emulated" && port !== 0
    ? emulated.get(addressKey(ip, port))
    : undefined;
  const shared = existing ??
    new SharedDatagramSocket(
      (onDatagram) => udp.bind(request, onDatagram),
      strategy === "emulated",
    );
  const rid = resourceTable.add(new UdpSocketResource(shared));
  // The runner's worker side (if any) hears of it: ready, and its stop.
  listenHook()?.listened(closeAll);
  return [rid, { ...shared.socket.addr }];
}

/**
 * Receives the next datagram on `rid` into `buf`, as `[bytes, from]`: a
 * datagram longer than `buf` is cut to it (the rest is lost, as with
 * `recvfrom`). Concurrent receives are served in the order they were made.
 * Rejects with `Interrupted` when the socket is closed while it waits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_listen_udp, op_net_recv_udp, op_net_send_udp } from "@reuseport/net/ops";
 *
 * const [rid, addr] = op_net_listen_udp({ hostname: "127.0.0.1", port: 0 }, false, false);
 * const receiving = op_net_recv_udp(rid, new Uint8Array(16));
 * await op_net_send_udp(rid, addr, new Uint8Array([1, 2, 3]));
 * const [n, from] = await receiving;
 * assert.equal(n, 3);
 * assert.equal(from.port, addr.port);
 * close(rid);
 * ```
 */
export function op_net_recv_udp(
  rid: number,
  buf: Uint8Array,
): Promise<[number, SocketAddress]> {
  return recvUdpInto(rid, buf, pair);
}

function pair(
  _buf: Uint8Array,
  n: number,
  from: SocketAddress,
): [number, SocketAddress] {
  return [n, from];
}

/**
 * `op_net_recv_udp` with the result made by `make(buf, bytes, from)` as
 * the datagram is copied into `buf`: a caller that wants another shape
 * (`DatagramConn#receive()`'s `[view, addr]`) makes it there, with no
 * promise and tuple of its own per datagram. `make` is best a function of
 * the module's, not a closure per call. `from` is the receiver's own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_listen_udp, op_net_send_udp, recvUdpInto } from "@reuseport/net/ops";
 *
 * const [rid, addr] = op_net_listen_udp({ hostname: "127.0.0.1", port: 0 }, false, false);
 * const receiving = recvUdpInto(
 *   rid,
 *   new Uint8Array(16),
 *   (buf, n, from) => ({ data: buf.subarray(0, n), port: from.port }),
 * );
 * await op_net_send_udp(rid, addr, new Uint8Array([4, 5]));
 * const { data, port } = await receiving;
 * assert.deepEqual([...data], [4, 5]);
 * assert.equal(port, addr.port);
 * close(rid);
 * ```
 */
export function recvUdpInto<B extends Uint8Array, R>(
  rid: number,
  buf: B,
  make: (buf: B, n: number, from: SocketAddress) => R,
): Promise<R> {
  if (!builtin("node:util").types.isUint8Array(buf)) {
    return Promise.reject(NetError.notABuffer());
  }
  let member: UdpSocketResource;
  try {
    member = receiverOf(rid);
  } catch (err) {
    return Promise.reject(err);
  }
  return member.shared.queue.take(member, copyInto, buf, make);
}

/** `recvUdpInto`'s step as the datagram is taken: a function of the module's, not a closure per receive. */
function copyInto<B extends Uint8Array, R>(
  { data, from }: Datagram,
  buf: B,
  make: (buf: B, n: number, from: SocketAddress) => R,
): R {
  const n = Math.min(data.byteLength, buf.byteLength);
  buf.set(n === data.byteLength ? data : data.subarray(0, n));
  // Each datagram, and its address, goes to one receive only: no copy.
  return make(buf, n, from);
}

/**
 * Receives the next datagram on `rid` without a buffer of the caller's: the
 * datagram's own bytes, at most `max` of them. What `DatagramConn#receive()`
 * uses when given no buffer (Deno's allocates 65,507 bytes per call). The
 * result is `[bytes, from]`, or what `make(bytes, from)` makes of them as
 * the datagram is taken (no promise of the caller's per datagram).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_listen_udp, op_net_send_udp, recvUdp } from "@reuseport/net/ops";
 *
 * const [rid, addr] = op_net_listen_udp({ hostname: "127.0.0.1", port: 0 }, false, false);
 * const receiving = recvUdp(rid, 65507);
 * await op_net_send_udp(rid, addr, new Uint8Array([7]));
 * const [data] = await receiving;
 * assert.deepEqual([...data], [7]);
 * close(rid);
 * ```
 */
export function recvUdp<R = [Uint8Array<ArrayBuffer>, SocketAddress]>(
  rid: number,
  max: number,
  make: (data: Uint8Array<ArrayBuffer>, from: SocketAddress) => R =
    viewPair as never,
): Promise<R> {
  let member: UdpSocketResource;
  try {
    member = receiverOf(rid);
  } catch (err) {
    return Promise.reject(err);
  }
  return member.shared.queue.take(member, viewOf, max, make);
}

function viewPair(
  data: Uint8Array<ArrayBuffer>,
  from: SocketAddress,
): [Uint8Array<ArrayBuffer>, SocketAddress] {
  return [data, from];
}

/** `recvUdp`'s step as the datagram is taken: its own bytes, at most `max`. */
function viewOf<R>(
  { data, from }: Datagram,
  max: number,
  make: (data: Uint8Array<ArrayBuffer>, from: SocketAddress) => R,
): R {
  const n = Math.max(0, Math.min(data.byteLength, max));
  // The runtimes' datagrams live in ArrayBuffers of their own.
  return make(
    new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, n),
    from,
  );
}

/** A port as Deno's op takes it: a number, saturated to 0–65535; 0 cannot be sent to. */
function sendPort(value: unknown): number {
  if (typeof value !== "number") throw NetError.expectedNumber();
  const port = Math.min(65535, Math.max(0, Math.trunc(value) || 0));
  if (port === 0) throw osError("EINVAL", 22, "Invalid argument");
  return port;
}

/**
 * Sends `data` as one datagram to `addr` (a name is resolved first);
 * resolves the byte count. A datagram too long for UDP rejects with the
 * OS's `Message too long (os error 90)`. An IP literal (the usual case: a
 * reply to a sender) goes out with no resolver step and no promise but the
 * send's own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_listen_udp, op_net_send_udp } from "@reuseport/net/ops";
 *
 * const [rid, addr] = op_net_listen_udp({ hostname: "127.0.0.1", port: 0 }, false, false);
 * assert.equal(await op_net_send_udp(rid, addr, new Uint8Array(4)), 4);
 * close(rid);
 * ```
 */
export function op_net_send_udp(
  rid: number,
  addr: { hostname: string; port: number },
  data: Uint8Array,
): Promise<number> {
  // An async op: what is wrong rejects, in Deno's order of checks.
  try {
    if (typeof addr !== "object" || addr === null) {
      throw NetError.expectedNumber();
    }
    const port = sendPort(addr.port);
    if (!builtin("node:util").types.isUint8Array(data)) {
      throw NetError.notABuffer();
    }
    const hostname = String(addr.hostname);
    const family = literalFamily(hostname);
    if (family === 0) {
      return sendResolved(rid, validateHostname(hostname), port, data);
    }
    return sendTo(memberOf(rid).shared.socket, data, hostname, family, port);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** The last IP literal sent to, and its family: replies go to few peers. */
let lastLiteral = "";
let lastFamily = 0;

/** 4 or 6 for a bare IP literal, else 0; the last one is not parsed again. */
function literalFamily(hostname: string): number {
  if (hostname === lastLiteral) return lastFamily;
  const family = ipFamily(hostname);
  if (family !== 0) {
    lastLiteral = hostname;
    lastFamily = family;
  }
  return family;
}

/** `op_net_send_udp` to a host that is not a bare IP literal (checked as Deno checks it). */
async function sendResolved(
  rid: number,
  host: string,
  port: number,
  data: Uint8Array,
): Promise<number> {
  const { socket } = memberOf(rid).shared;
  let family = ipFamily(host);
  let ip = host;
  if (!family) {
    const v6 = socket.addr.hostname.includes(":");
    ip = literalAddress(host) ??
      await udpOf(runtime()).resolve(host, v6 ? 6 : 4);
    family = ipFamily(ip);
    // The socket may have closed while the name resolved.
    memberOf(rid);
  }
  return await sendTo(socket, data, ip, family, port);
}

/** Sends to the literal `ip` of `family`, as the socket's family can reach it. */
function sendTo(
  socket: NativeDatagramSocket,
  data: Uint8Array,
  ip: string,
  family: number,
  port: number,
): Promise<number> {
  const v6 = socket.addr.hostname.includes(":");
  if (family === 6 && !v6) {
    throw osError(
      "EAFNOSUPPORT",
      97,
      "Address family not supported by protocol",
    );
  }
  // A dual-stack socket reaches an IPv4 peer at its mapped address.
  return socket.send(data, family === 4 && v6 ? `::ffff:${ip}` : ip, port);
}

/** Runs `fn` as an async op does: what it throws rejects, never throws. */
function asOp(fn: () => void | Promise<void>): Promise<null> {
  return new Promise<void>((resolve) => resolve(fn())).then(() => null);
}

/** Checks a multicast address (or an IPv4 interface) as Deno parses it. */
function multicastLiteral(address: unknown, v6: boolean): string {
  const text = String(address);
  if (ipFamily(text) !== (v6 ? 6 : 4)) {
    throw NetError.invalidIpSyntax(v6);
  }
  return text;
}

/**
 * Joins the IPv4 multicast group `address` on the interface whose address
 * is `multiInterface`.
 *
 * @example
 * ```ts
 * import { close, op_net_join_multi_v4_udp, op_net_leave_multi_v4_udp, op_net_listen_udp } from "@reuseport/net/ops";
 *
 * const [rid] = op_net_listen_udp({ hostname: "0.0.0.0", port: 0 }, false, false);
 * await op_net_join_multi_v4_udp(rid, "224.0.0.251", "127.0.0.1");
 * await op_net_leave_multi_v4_udp(rid, "224.0.0.251", "127.0.0.1");
 * close(rid);
 * ```
 */
export function op_net_join_multi_v4_udp(
  rid: number,
  address: string,
  multiInterface: string,
): Promise<null> {
  return asOp(() => {
    const { socket } = memberOf(rid).shared;
    return socket.joinMulticastV4(
      multicastLiteral(address, false),
      multicastLiteral(multiInterface, false),
    );
  });
}

/**
 * Leaves an IPv4 multicast group joined with `op_net_join_multi_v4_udp`.
 *
 * @example
 * ```ts
 * import { close, op_net_join_multi_v4_udp, op_net_leave_multi_v4_udp, op_net_listen_udp } from "@reuseport/net/ops";
 *
 * const [rid] = op_net_listen_udp({ hostname: "0.0.0.0", port: 0 }, false, false);
 * await op_net_join_multi_v4_udp(rid, "224.0.0.251", "127.0.0.1");
 * await op_net_leave_multi_v4_udp(rid, "224.0.0.251", "127.0.0.1");
 * close(rid);
 * ```
 */
export function op_net_leave_multi_v4_udp(
  rid: number,
  address: string,
  multiInterface: string,
): Promise<null> {
  return asOp(() => {
    const { socket } = memberOf(rid).shared;
    return socket.leaveMulticastV4(
      multicastLiteral(address, false),
      multicastLiteral(multiInterface, false),
    );
  });
}

/** An interface index as Deno's op takes it (a `u32`). */
function interfaceIndex(value: unknown): number {
  if (typeof value !== "number") throw NetError.expectedNumber();
  return value >>> 0;
}

/**
 * Joins the IPv6 multicast group `address` on the interface with index
 * `multiInterface` (0: the OS's choice).
 *
 * @example
 * ```ts
 * import { close, op_net_join_multi_v6_udp, op_net_leave_multi_v6_udp, op_net_listen_udp } from "@reuseport/net/ops";
 *
 * const [rid] = op_net_listen_udp({ hostname: "::1", port: 0 }, false, false);
 * await op_net_join_multi_v6_udp(rid, "ff02::fb", 0);
 * await op_net_leave_multi_v6_udp(rid, "ff02::fb", 0);
 * close(rid);
 * ```
 */
export function op_net_join_multi_v6_udp(
  rid: number,
  address: string,
  multiInterface: number,
): Promise<null> {
  return asOp(() => {
    const { socket } = memberOf(rid).shared;
    return socket.joinMulticastV6(
      multicastLiteral(address, true),
      interfaceIndex(multiInterface),
    );
  });
}

/**
 * Leaves an IPv6 multicast group joined with `op_net_join_multi_v6_udp`.
 *
 * @example
 * ```ts
 * import { close, op_net_join_multi_v6_udp, op_net_leave_multi_v6_udp, op_net_listen_udp } from "@reuseport/net/ops";
 *
 * const [rid] = op_net_listen_udp({ hostname: "::1", port: 0 }, false, false);
 * await op_net_join_multi_v6_udp(rid, "ff02::fb", 0);
 * await op_net_leave_multi_v6_udp(rid, "ff02::fb", 0);
 * close(rid);
 * ```
 */
export function op_net_leave_multi_v6_udp(
  rid: number,
  address: string,
  multiInterface: number,
): Promise<null> {
  return asOp(() => {
    const { socket } = memberOf(rid).shared;
    return socket.leaveMulticastV6(
      multicastLiteral(address, true),
      interfaceIndex(multiInterface),
    );
  });
}

/**
 * Sets whether multicast datagrams the socket sends loop back to it
 * (`isV4Membership` says which membership asked, as in Deno's op; the
 * socket's family decides the option).
 *
 * @example
 * ```ts
 * import { close, op_net_listen_udp, op_net_set_multi_loopback_udp } from "@reuseport/net/ops";
 *
 * const [rid] = op_net_listen_udp({ hostname: "0.0.0.0", port: 0 }, false, false);
 * await op_net_set_multi_loopback_udp(rid, true, true);
 * close(rid);
 * ```
 */
export function op_net_set_multi_loopback_udp(
  rid: number,
  _isV4Membership: boolean,
  loopback: boolean,
): Promise<null> {
  return asOp(() => {
    return memberOf(rid).shared.socket.setMulticastLoopback(Boolean(loopback));
  });
}

/**
 * Sets the TTL of the multicast datagrams the socket sends.
 *
 * @example
 * ```ts
 * import { close, op_net_listen_udp, op_net_set_multi_ttl_udp } from "@reuseport/net/ops";
 *
 * const [rid] = op_net_listen_udp({ hostname: "0.0.0.0", port: 0 }, false, false);
 * await op_net_set_multi_ttl_udp(rid, 8);
 * close(rid);
 * ```
 */
export function op_net_set_multi_ttl_udp(
  rid: number,
  ttl: number,
): Promise<null> {
  return asOp(() => {
    const { socket } = memberOf(rid).shared;
    return socket.setMulticastTTL(interfaceIndex(ttl));
  });
}

/**
 * What the socket of `rid` did with the datagrams that arrived: handed to a
 * receive, waiting in its queue, or dropped because the queue was full
 * (nobody received for a while). A shared socket's figures are its
 * members' together; one shared across threads or processes counts what
 * waits at its owner and what its owner dropped too (as last heard, in
 * another thread or process than the owner's).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, datagramStats, op_net_listen_udp } from "@reuseport/net/ops";
 *
 * const [rid] = op_net_listen_udp({ hostname: "127.0.0.1", port: 0 }, false, false);
 * assert.deepEqual(datagramStats(rid), { delivered: 0, queued: 0, dropped: 0 });
 * close(rid);
 * ```
 */
export function datagramStats(
  rid: number,
): { delivered: number; queued: number; dropped: number } {
  const { queue, socket } = memberOf(rid).shared;
  const owner = socket.ownerStats?.();
  return {
    delivered: queue.delivered,
    queued: queue.queued + (owner?.queued ?? 0),
    dropped: queue.dropped + (owner?.dropped ?? 0),
  };
}
