/**
 * Listening sockets shared across threads and processes: a runtime whose
 * connections can move (`Runtime.handles`) gets a `listen()` that, for the
 * emulated strategy, joins the socket its owner holds for the address —
 * the thread's that bound it first, for worker threads (`threads.ts`); the
 * runner primary's, for its child processes (`processes.ts`); so do its
 * shared UDP binds (the owner holds the socket and hands datagrams to
 * waiting receives, `datagrams.ts`). Everything else passes through to the
 * runtime.
 *
 * The owner side is `owner.ts`, the borrower side `borrower.ts`, what they
 * say `wire.ts`.
 *
 * @module
 */
import { builtin } from "../platform/builtin.ts";
import { readSettings } from "../core/settings.ts";
import { AddrInUse } from "../core/errors.ts";
import { NetError } from "../core/messages.ts";
import type {
  BindRequest,
  Datagram,
  Handles,
  NativeDatagramSocket,
  NativeListener,
  Runtime,
  ShareAddress,
  ShareRequest,
  Udp,
  UdpBindRequest,
  UnixAddress,
  UnixSockets,
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

/** The side this thread shares on: the runner's primary, else the other threads. */
function sideOf(rt: Runtime, handles: Handles): Side | null {
  const { primary } = readSettings((name) => rt.env(name));
  return processSharing(primary, handles) ??
    threadSharing(handles, rt.udp) ?? null;
}

/** Why Unix socket connections can or cannot move between threads here. */
function unixThreadsReason(handles: Handles): string {
  return handles.unixThreads?.reason ?? handles.threadsReason;
}

/** Binds `request` with the runtime's own listen, a socket of this thread's. */
function ownListen(
  rt: Runtime,
  request: ShareRequest,
): NativeListener<ShareAddress> {
  return "path" in request
    ? rt.unix!.listen(request.path, request.backlog)
    : rt.listen(request);
}

/** A shared listen: through the owner of the address, where there is one to reach. */
function sharedListen(
  rt: Runtime,
  handles: Handles,
  request: ShareRequest,
): NativeListener<ShareAddress> {
  if (registry.side === undefined) registry.side = sideOf(rt, handles);
  if (registry.side) return registry.side.open(request);
  try {
    return ownListen(rt, request);
  } catch (err) {
    if (
      !builtin("node:worker_threads").isMainThread && err instanceof AddrInUse
    ) {
      throw "path" in request
        ? NetError.unixThreadsCannotShare(err, unixThreadsReason(handles))
        : NetError.threadsCannotShare(err, handles.threadsReason);
    }
    throw err;
  }
}

/**
 * Unix sockets whose shared listens join the owner's socket for the path;
 * where the runtime cannot move connections (no `handles`), a taken path's
 * `AddrInUse` says why a shared listener could not join it.
 */
function sharedUnix(
  rt: Runtime,
  unix: UnixSockets,
  handles: Handles | undefined,
): UnixSockets {
  return {
    ...unix,
    listen(path: string, backlog: number, shared?: boolean) {
      if (shared && handles) {
        return sharedListen(rt, handles, {
          transport: "unix",
          path,
          backlog,
        }) as NativeListener<UnixAddress>;
      }
      try {
        return unix.listen(path, backlog);
      } catch (err) {
        if (shared && err instanceof AddrInUse) {
          throw NetError.unixCannotShare(err, rt.name);
        }
        throw err;
      }
    },
  };
}

/** A shared UDP bind: through the owner of the address, where there is one to reach. */
function sharedBind(
  rt: Runtime,
  udp: Udp,
  handles: Handles,
  request: UdpBindRequest,
  onDatagram: (d: Datagram) => void,
): NativeDatagramSocket {
  if (registry.side === undefined) registry.side = sideOf(rt, handles);
  if (registry.side) {
    return registry.side.openDatagram(
      { ...request, transport: "udp" },
      onDatagram,
    );
  }
  try {
    return udp.bind(request, onDatagram);
  } catch (err) {
    if (
      !builtin("node:worker_threads").isMainThread && err instanceof AddrInUse
    ) {
      throw NetError.threadsCannotShare(err, handles.threadsReason);
    }
    throw err;
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

/**
 * `rt` with socket sharing, where its connections can move (TCP and Unix
 * sockets alike: a path is one more address; UDP, whose datagrams travel
 * as bytes, on the same channels); as it is elsewhere, but for the reason
 * a shared Unix listen could not join.
 */
export function withSharing(rt: Runtime): Runtime {
  const handles = rt.handles;
  const unix = rt.unix && sharedUnix(rt, rt.unix, handles);
  if (!handles) return unix ? { ...rt, unix } : rt;
  return {
    ...rt,
    unix,
    listen: (request: BindRequest) =>
      request.shared
        ? sharedListen(rt, handles, request) as NativeListener
        : rt.listen(request),
    udp: rt.udp && sharedUdp(rt, rt.udp, handles),
  };
}
