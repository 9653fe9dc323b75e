/**
 * Listening sockets shared across threads and processes: a runtime whose
 * connections can move (`Runtime.handles`) gets a `listen()` that, for the
 * emulated strategy, joins the socket the hub holds for the address — the
 * thread's that bound it first, for worker threads; the runner primary's,
 * for its child processes. Everything else passes through to the runtime.
 *
 * @module
 */
import process from "node:process";
import { isMainThread, threadId } from "node:worker_threads";
import { readSettings } from "../core/settings.ts";
import { AddrInUse } from "../core/errors.ts";
import type {
  BindRequest,
  Handles,
  NativeListener,
  Runtime,
} from "../platform/types.ts";
import { RemoteMember } from "./hub.ts";
import { memberPrefix as processPrefix, processChannel } from "./processes.ts";
import { memberPrefix as threadPrefix, threadChannel } from "./threads.ts";

/** Why a worker thread's listener could not join another thread's socket. */
function threadsCannotShare(handles: Handles): string {
  return `another listener holds this address, and if it is in another thread of this process, ${handles.threadsReason}. ` +
    "Use the kernel strategy (reusePort where the kernel balances; strategyFor() tells whether it does here) or processes: reuseport serve --parallel --processes";
}

/** A shared listen: through the hub, where there is one to reach. */
function sharedListen(
  rt: Runtime,
  handles: Handles,
  request: BindRequest,
): NativeListener {
  const primary = readSettings((name) => rt.env(name)).primary;
  const toPrimary = processChannel(primary, handles);
  if (toPrimary) {
    return new RemoteMember(
      toPrimary,
      handles,
      request,
      processPrefix(process.pid),
    );
  }
  const toThreads = threadChannel(handles);
  if (toThreads) {
    return new RemoteMember(
      toThreads,
      handles,
      request,
      threadPrefix(threadId),
    );
  }
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
