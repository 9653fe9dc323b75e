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
  Handles,
  NativeListener,
  Runtime,
} from "../platform/types.ts";
import { processSharing } from "./processes.ts";
import { threadSharing } from "./threads.ts";

/** One side of sharing: makes listeners on the sockets it shares. */
interface Side {
  open(request: BindRequest): NativeListener;
}

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
  return processSharing(primary, handles) ?? threadSharing(handles) ?? null;
}

/** A shared listen: through the owner of the address, where there is one to reach. */
function sharedListen(
  rt: Runtime,
  handles: Handles,
  request: BindRequest,
): NativeListener {
  if (registry.side === undefined) registry.side = sideOf(rt, handles);
  if (registry.side) return registry.side.open(request);
  try {
    return rt.listen(request);
  } catch (err) {
    if (!isMainThread && err instanceof AddrInUse) {
      throw new AddrInUse(`${err.message}: ${threadsCannotShare(handles)}`);
    }
    throw err;
  }
}

/** `rt` with socket sharing, where its connections can move; as it is elsewhere. */
export function withSharing(rt: Runtime): Runtime {
  const handles = rt.handles;
  if (!handles) return rt;
  return {
    ...rt,
    listen: (request) =>
      request.shared ? sharedListen(rt, handles, request) : rt.listen(request),
  };
}
