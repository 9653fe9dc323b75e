/**
 * The TCP ops, with the names and shapes of Deno's `ext/net/ops.rs`.
 *
 * @module
 */
import { NetError } from "../core/messages.ts";
import type { NativeStream, SocketAddress } from "../platform/types.ts";
import { literalAddress, validateHostname, validatePort } from "./_validate.ts";
import { TcpStreamResource } from "./io.ts";
import { resourceTable } from "./resources.ts";
import { runtime } from "./runtime.ts";
import { chooseStrategy, type Strategy } from "./strategy.ts";
import { connections, TcpListenerResource } from "./tcp.ts";

export type { SocketAddress };

/**
 * Options of `op_net_connect_tcp`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ConnectTcpOptions, op_net_connect_tcp } from "@reuseport/net/ops";
 *
 * const options: ConnectTcpOptions = { signal: AbortSignal.abort() };
 * await assert.rejects(op_net_connect_tcp({ hostname: "127.0.0.1", port: 9 }, options));
 * ```
 */
export interface ConnectTcpOptions {
  /** Aborts the connect; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** The backlog Deno uses: the kernel rounds it up to 512. */
const DEFAULT_BACKLOG = 511;

/**
 * Binds and listens before it returns: a taken address throws `AddrInUse`
 * here, and port 0 comes back as the port the OS chose. `reusePort` lets
 * other listeners share the address; `loadBalanced` shares one socket
 * between the listeners of this process (absent: on in the parallel
 * runner's workers, off elsewhere).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_listen_tcp } from "@reuseport/net/ops";
 *
 * const [rid, addr] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * assert(addr.port > 0);
 * close(rid);
 * ```
 */
export function op_net_listen_tcp(
  addr: { hostname: string; port: number },
  reusePort = false,
  loadBalanced?: boolean,
  tcpBacklog = DEFAULT_BACKLOG,
): [number, SocketAddress] {
  return listenPlanned(planListen(addr, reusePort, loadBalanced, tcpBacklog));
}

/**
 * A TCP listen's arguments checked, its host resolved and its strategy
 * chosen: what `op_net_listen_tcp` binds, or the runtime's own listen
 * (`ops/own.ts`) where nothing needs emulating.
 *
 * @ignore Internal: `op_net_listen_tcp` is the public way in.
 */
export interface ListenPlan {
  /** The IP literal to bind. */
  ip: string;
  /** The port, 0 for the OS's choice. */
  port: number;
  /** How the listener gets its socket. */
  strategy: Strategy;
  /** The kernel's backlog. */
  backlog: number;
}

/**
 * Checks a TCP listen's arguments as Deno does, resolves its host and
 * chooses its strategy.
 *
 * @ignore Internal: `op_net_listen_tcp` is the public way in.
 */
export function planListen(
  addr: { hostname: string; port: number },
  reusePort = false,
  loadBalanced?: boolean,
  tcpBacklog = DEFAULT_BACKLOG,
): ListenPlan {
  const port = validatePort(addr.port);
  const host = validateHostname(String(addr.hostname));
  const ip = literalAddress(host) ?? runtime().resolveListenHost(host);
  const { strategy } = chooseStrategy(
    runtime(),
    Boolean(reusePort),
    loadBalanced === undefined ? undefined : Boolean(loadBalanced),
  );
  return { ip, port, strategy, backlog: tcpBacklog };
}

/**
 * Binds what `plan` says, as `op_net_listen_tcp`: a listener in the table.
 *
 * @ignore Internal: `op_net_listen_tcp` is the public way in.
 */
export function listenPlanned(plan: ListenPlan): [number, SocketAddress] {
  const listener = connections.listen(
    plan.ip,
    plan.port,
    plan.strategy,
    plan.backlog,
  );
  return [resourceTable.add(listener), { ...listener.addr }];
}

/**
 * The next connection of the listener `rid`, as `[rid, localAddr, remoteAddr]`.
 * Rejects with `BadResource: Listener has been closed` when the listener is
 * (or gets) closed, and with `Busy` while another accept is pending on it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_accept_tcp, op_net_connect_tcp, op_net_listen_tcp } from "@reuseport/net/ops";
 *
 * const [lrid, addr] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * const accepted = op_net_accept_tcp(lrid);
 * const [crid] = await op_net_connect_tcp(addr);
 * const [srid, local] = await accepted;
 * assert(local.port === addr.port);
 * close(crid);
 * close(srid);
 * close(lrid);
 * ```
 */
export function op_net_accept_tcp(
  rid: number,
): Promise<[number, SocketAddress, SocketAddress]> {
  return acceptFrom(rid, acceptedTcp);
}

/**
 * `op_net_accept_tcp` for `net/`'s `TcpConn`, which only reads the
 * addresses: the stream's own, not copies. An idle connection then holds no
 * address objects of its own (the local one is its listener's, shared),
 * until someone asks for them.
 *
 * @ignore Internal: `op_net_accept_tcp` is the public way in.
 */
export function acceptTcpSharingAddrs(
  rid: number,
): Promise<[number, SocketAddress, SocketAddress]> {
  return acceptFrom(rid, acceptedTcpSharingAddrs);
}

/** The next connection of listener `rid`, as `made` puts it in the table. */
function acceptFrom(
  rid: number,
  made: (
    stream: NativeStream<SocketAddress>,
  ) => [number, SocketAddress, SocketAddress],
): Promise<[number, SocketAddress, SocketAddress]> {
  let listener: TcpListenerResource;
  try {
    listener = resourceTable.get(rid, TcpListenerResource);
  } catch {
    return Promise.reject(NetError.listenerClosed());
  }
  // Not `async`: an idle listener waits here, and a suspended frame costs it.
  return listener.accept().then(made);
}

/** An accepted stream in the resource table, with its own addresses. */
function acceptedTcpSharingAddrs(
  stream: NativeStream<SocketAddress>,
): [number, SocketAddress, SocketAddress] {
  const connRid = resourceTable.add(new TcpStreamResource(stream));
  return [connRid, stream.localAddr, stream.remoteAddr];
}

/** An accepted stream in the resource table, with copies of its addresses. */
function acceptedTcp(
  stream: NativeStream<SocketAddress>,
): [number, SocketAddress, SocketAddress] {
  const [connRid, local, remote] = acceptedTcpSharingAddrs(stream);
  return [connRid, { ...local }, { ...remote }];
}

/**
 * Connects to `hostname:port` and returns `[rid, localAddr, remoteAddr]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_connect_tcp, op_net_listen_tcp } from "@reuseport/net/ops";
 *
 * const [lrid, addr] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * const [crid, , remote] = await op_net_connect_tcp(addr);
 * assert(remote.port === addr.port);
 * close(crid);
 * close(lrid);
 * ```
 */
export async function op_net_connect_tcp(
  addr: { hostname: string; port: number },
  options: ConnectTcpOptions = {},
): Promise<[number, SocketAddress, SocketAddress]> {
  const port = validatePort(addr.port, 1);
  const host = validateHostname(String(addr.hostname));
  options.signal?.throwIfAborted();
  const stream = await runtime().connect(
    literalAddress(host) ?? host,
    port,
    options.signal,
  );
  const rid = resourceTable.add(new TcpStreamResource(stream));
  return [rid, { ...stream.localAddr }, { ...stream.remoteAddr }];
}

/**
 * Sets `TCP_NODELAY` on the stream `rid`. Returns `null`, as Deno's op does.
 *
 * @example
 * ```ts
 * import { close, op_net_accept_tcp, op_net_connect_tcp, op_net_listen_tcp, op_set_nodelay } from "@reuseport/net/ops";
 *
 * const [lrid, addr] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * const [crid] = await op_net_connect_tcp(addr);
 * op_set_nodelay(crid, true);
 * close(crid);
 * close(lrid);
 * ```
 */
export function op_set_nodelay(rid: number, nodelay: boolean): null {
  resourceTable.get(rid, TcpStreamResource).stream.setNoDelay(nodelay);
  return null;
}

/**
 * Sets `SO_KEEPALIVE` on the stream `rid`. Returns `null`, as Deno's op does.
 *
 * @example
 * ```ts
 * import { close, op_net_connect_tcp, op_net_listen_tcp, op_set_keepalive } from "@reuseport/net/ops";
 *
 * const [lrid, addr] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * const [crid] = await op_net_connect_tcp(addr);
 * op_set_keepalive(crid, true);
 * close(crid);
 * close(lrid);
 * ```
 */
export function op_set_keepalive(rid: number, keepalive: boolean): null {
  resourceTable.get(rid, TcpStreamResource).stream.setKeepAlive(keepalive);
  return null;
}
