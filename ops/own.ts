/**
 * The runtime's own objects where nothing needs emulating (`Runtime.own`:
 * native Deno's listeners and conns, TCP, TLS and Unix, and its
 * `DatagramConn`): a listen whose strategy is `direct`, or `kernel` where the
 * runtime's own listen binds with `SO_REUSEPORT`, outside the parallel
 * runner's workers, gets the runtime's own listener, whose connections are
 * its own; every `connect` gets the runtime's own conn; a UDP socket without
 * `reusePort` is the runtime's own where it has one. What emulates (the
 * shared socket of the emulated strategy, the runner, `SO_REUSEPORT` through
 * another layer) stays in the resource table.
 *
 * @module
 */
import type {
  BindRequest,
  OwnKind,
  OwnTcp,
  SocketAddress,
} from "../platform/types.ts";
import { literalAddress, validateHostname, validatePort } from "./_validate.ts";
import { listenHook } from "./hooks.ts";
import {
  type ConnectTcpOptions,
  type ListenPlan,
  listenPlanned,
  planListen,
} from "./ops.ts";
import {
  clientSettings,
  type ConnectTlsArgs,
  type ListenTlsArgs,
  listenTlsPlanned,
  planListenTls,
  type StartTlsArgs,
  type TlsKeys,
} from "./ops_tls.ts";
import { runtime } from "./runtime.ts";

export type { OwnKind };

/**
 * `op_net_listen_tcp`, or the runtime's own listener where it serves the
 * listen as it is: `[rid, addr]` for ours, the runtime's object for its own.
 *
 * @ignore Internal: `listen` of `net/tcp.ts` is the public way in.
 */
export function listenTcpOrOwn(
  addr: { hostname: string; port: number },
  reusePort: boolean,
  loadBalanced: boolean | undefined,
  tcpBacklog: number | undefined,
): [number, SocketAddress] | object {
  const plan = planListen(addr, reusePort, loadBalanced, tcpBacklog);
  return ownListener(plan, (own, request) => own.listen(request)) ??
    listenPlanned(plan);
}

/**
 * The runtime's own listener for `plan` through `listen`, where nothing
 * needs emulating and the runtime's own can bind it; else `undefined`.
 */
function ownListener(
  plan: ListenPlan,
  listen: (own: OwnTcp, request: BindRequest) => object | undefined,
): object | undefined {
  const own = runtime().own;
  // The runner's workers stop by closing the listeners of the ops, and are
  // ready once one listened: theirs stay in the table.
  if (!own || plan.strategy === "emulated" || listenHook()) return undefined;
  return listen(own, {
    hostname: plan.ip,
    port: plan.port,
    backlog: plan.backlog,
    reusePort: plan.strategy === "kernel",
  });
}

/**
 * `op_net_listen_tls`, or the runtime's own TLS listener where it serves
 * the listen as it is: `[rid, addr]` for ours, the runtime's object for its
 * own.
 *
 * @ignore Internal: `listenTls` of `net/tls.ts` is the public way in.
 */
export function listenTlsOrOwn(
  addr: { hostname: string; port: number },
  args: ListenTlsArgs,
  keys: TlsKeys,
): [number, SocketAddress] | object {
  const { plan, settings } = planListenTls(addr, args, keys);
  return ownListener(
    plan,
    (own, request) => own.listenTls(request, settings),
  ) ??
    listenTlsPlanned(plan, settings);
}

/**
 * The runtime's own TLS conn to `hostname:port`, checked as
 * `op_net_connect_tls` checks; `undefined` where the runtime has no own
 * objects to hand out.
 *
 * @ignore Internal: `connectTls` of `net/tls.ts` is the public way in.
 */
export function connectTlsOwn(
  addr: { hostname: string; port: number },
  args: ConnectTlsArgs,
  keys: TlsKeys,
): Promise<object> | undefined {
  const own = runtime().own;
  if (!own) return undefined;
  const port = validatePort(addr.port, 1);
  const host = validateHostname(String(addr.hostname));
  return own.connectTls(port, clientSettings(host, args, keys), args.signal);
}

/**
 * The runtime's own conn to `hostname:port`, checked as `op_net_connect_tcp`
 * checks; `undefined` where the runtime has no own objects to hand out.
 *
 * @ignore Internal: `connect` of `net/tcp.ts` is the public way in.
 */
export function connectOwn(
  addr: { hostname: string; port: number },
  options: ConnectTcpOptions = {},
): Promise<object> | undefined {
  const own = runtime().own;
  if (!own) return undefined;
  const port = validatePort(addr.port, 1);
  const host = validateHostname(String(addr.hostname));
  options.signal?.throwIfAborted();
  return own.connect(literalAddress(host) ?? host, port, options.signal);
}

/**
 * Whether `value` is one of the runtime's own objects of `kind` (a
 * pass-through conn or listener), for the `instanceof` of our classes.
 *
 * @ignore Internal: the classes of `net/` ask it.
 */
export function isOwn(kind: OwnKind, value: unknown): boolean {
  return runtime().own?.is(kind, value) ?? false;
}

/**
 * Starts TLS on one of the runtime's own conns with the runtime's own
 * `startTls`, with the arguments of `op_tls_start` (its `rid` unused).
 *
 * @ignore Internal: `startTls` of `net/tls.ts` is the public way in.
 */
export function startTlsOwn(
  conn: object,
  args: Omit<StartTlsArgs, "rid">,
  keys: TlsKeys,
): Promise<object> {
  const settings = clientSettings(String(args.hostname), args, keys);
  return runtime().own!.startTls(conn, settings);
}

/**
 * The runtime's own Unix listener on `path`, where nothing needs emulating
 * (no `loadBalanced` sharing, outside the parallel runner's workers);
 * `undefined` where ours must serve the listen.
 *
 * @ignore Internal: `listen({ transport: "unix" })` of `net/unix.ts` is the
 * public way in.
 */
export function listenUnixOwn(
  path: string,
  loadBalanced: boolean | undefined,
): object | undefined {
  const own = runtime().own;
  // The runner's workers share their paths and stop through our table.
  if (!own?.listenUnix || loadBalanced || listenHook()) return undefined;
  return own.listenUnix(path);
}

/**
 * The runtime's own Unix conn to `path`; `undefined` where the runtime has
 * no own objects to hand out.
 *
 * @ignore Internal: `connect({ transport: "unix" })` of `net/unix.ts` is the
 * public way in.
 */
export function connectUnixOwn(path: string): Promise<object> | undefined {
  return runtime().own?.connectUnix?.(path);
}

/**
 * The runtime's own UDP socket, where it has one and nothing needs
 * emulating (no `reusePort`, outside the parallel runner's workers);
 * `undefined` where ours must serve it.
 *
 * @ignore Internal: `listenDatagram` of `net/udp.ts` is the public way in.
 */
export function listenDatagramOwn(
  addr: { hostname: string; port: number },
  reuseAddress: boolean,
  loopback: boolean,
  reusePort: boolean,
): object | undefined {
  const own = runtime().own;
  if (!own?.listenDatagram || reusePort || listenHook()) return undefined;
  return own.listenDatagram({
    hostname: addr.hostname,
    port: addr.port,
    reuseAddress,
    loopback,
    reusePort: false,
  });
}
