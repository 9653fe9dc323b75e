/**
 * Listening sockets shared across threads and processes: a runtime whose
 * connections can move (`Runtime.handles`) gets a `listen()` that, for the
 * emulated strategy, joins the socket its owner holds for the address —
 * the thread's that bound it first, for worker threads (`threads.ts`); the
 * runner primary's, for its child processes (`processes.ts`). Everything
 * else passes through to the runtime.
 *
 * The owner side is `owner.ts`, the borrower side `borrower.ts`, what they
 * say `wire.ts`.
 *
 * @module
 */
import { isMainThread } from "node:worker_threads";
import { readSettings } from "../core/settings.ts";
import { AddrInUse } from "../core/errors.ts";
import type {
  BindRequest,
  Datagram,
  Handles,
  NativeDatagramSocket,
  NativeListener,
  Runtime,
  Udp,
  UdpBindRequest,
} from "../platform/types.ts";
import { processSharing, type SharingSide } from "./processes.ts";
import { threadSharing } from "./threads.ts";

/** One side of sharing: makes listeners and UDP sockets on the sockets it shares. */
type Side = SharingSide;

/**
 * This thread's sharing, made on first use: the one piece of state the
 * folder keeps (`null`: nothing to share with here).
 */
const registry: { side?: Side | null } = {};

/** Why a worker thread's listener could not join another thread's socket. */
function threadsCannotShare(handles: Handles): string {
  return `another listener holds this address, and if it is in another thread of this process, ${handles.threadsReason}. ` +
    "Use the kernel strategy (reusePort where the kernel balances; strategyFor() tells whether it does here) or processes: reuseport serve --parallel --processes";
}

/** The side this thread shares on: the runner's primary, else the other threads. */
function sideOf(rt: Runtime, handles: Handles): Side | null {
  const { primary } = readSettings((name) => rt.env(name));
  return processSharing(primary, handles) ??
    threadSharing(handles, rt.udp) ?? null;
}

/** The side of this thread, found on first use. */
function side(rt: Runtime, handles: Handles): Side | null {
  if (registry.side === undefined) registry.side = sideOf(rt, handles);
  return registry.side;
}

/** A taken address, in a worker thread: why it could not be shared, and what to use. */
function inUse(err: unknown, handles: Handles): unknown {
  if (!isMainThread && err instanceof AddrInUse) {
    return new AddrInUse(`${err.message}: ${threadsCannotShare(handles)}`);
  }
  return err;
}

/** A shared listen: through the owner of the address, where there is one to reach. */
function sharedListen(
  rt: Runtime,
  handles: Handles,
  request: BindRequest,
): NativeListener {
  const shared = side(rt, handles);
  if (shared) return shared.open(request);
  try {
    return rt.listen(request);
  } catch (err) {
    throw inUse(err, handles);
  }
}

/** A shared UDP bind: through the owner of the address, where there is one to reach. */
function sharedBind(
  rt: Runtime,
  udp: Udp,
  handles: Handles,
  request: UdpBindRequest,
  onDatagram: (d: Datagram) => void,
): NativeDatagramSocket {
  const shared = side(rt, handles);
  if (shared) {
    return shared.openDatagram({ ...request, transport: "udp" }, onDatagram);
  }
  try {
    return udp.bind(request, onDatagram);
  } catch (err) {
    throw inUse(err, handles);
  }
}

/** `udp` whose shared binds go through the owner of the address. */
function sharedUdp(rt: Runtime, udp: Udp, handles: Handles): Udp {
  return {
    base: udp.base,
    bind: (request, onDatagram) =>
      request.shared
        ? sharedBind(rt, udp, handles, request, onDatagram)
        : udp.bind(request, onDatagram),
    kernelSupport: () => udp.kernelSupport(),
    resolve: (hostname, family) => udp.resolve(hostname, family),
  };
}

/** `rt` with socket sharing, where its connections can move; as it is elsewhere. */
export function withSharing(rt: Runtime): Runtime {
  const handles = rt.handles;
  if (!handles) return rt;
  return {
    ...rt,
    listen: (request) =>
      request.shared ? sharedListen(rt, handles, request) : rt.listen(request),
    udp: rt.udp && sharedUdp(rt, rt.udp, handles),
  };
}
