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
import { NetError } from "../core/messages.ts";
import type {
  BindRequest,
  Handles,
  NativeListener,
  Runtime,
  ShareAddress,
  ShareRequest,
  UnixAddress,
  UnixSockets,
} from "../platform/types.ts";
import { processSharing } from "./processes.ts";
import { threadSharing } from "./threads.ts";

/** One side of sharing: makes listeners on the sockets it shares. */
interface Side {
  open(request: ShareRequest): NativeListener<ShareAddress>;
}

/**
 * This thread's sharing, made on first use: the one piece of state the
 * folder keeps (`null`: nothing to share with here).
 */
const registry: { side?: Side | null } = {};

/** The side this thread shares on: the runner's primary, else the other threads. */
function sideOf(rt: Runtime, handles: Handles): Side | null {
  const { primary } = readSettings((name) => rt.env(name));
  return processSharing(primary, handles) ?? threadSharing(handles) ?? null;
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
    if (!isMainThread && err instanceof AddrInUse) {
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

/**
 * `rt` with socket sharing, where its connections can move (TCP and Unix
 * sockets alike: a path is one more address); as it is elsewhere, but for
 * the reason a shared Unix listen could not join.
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
  };
}
