/**
 * Listening sockets shared across threads and processes: a runtime whose
 * connections can move (`Runtime.handles`) gets a `listen()` that, for the
 * emulated strategy, joins the socket the hub holds for the address — the
 * main thread's for worker threads, the runner primary's for its child
 * processes. Everything else passes through to the runtime.
 *
 * @module
 */
import process from "node:process";
import { isMainThread, threadId } from "node:worker_threads";
import { readSettings } from "../core/settings.ts";
import { AddrInUse } from "../errors.ts";
import type {
  BindRequest,
  Handles,
  NativeListener,
  Runtime,
} from "../platform/types.ts";
import { HubMember, RemoteMember } from "./hub.ts";
import { memberPrefix as processPrefix, processChannel } from "./processes.ts";
import {
  isThreadHub,
  memberPrefix as threadPrefix,
  startThreadHub,
  threadChannel,
} from "./threads.ts";

/** Why a worker thread's listener could not join another thread's socket. */
function threadsCannotShare(handles: Handles): string {
  const why = handles.threads
    ? "the main thread had not used @reuseport/net before this worker started"
    : handles.threadsReason;
  return `another listener holds this address, and if it is in another thread of this process, ${why}. ` +
    "Use the kernel strategy (reusePort on Linux with Node >= 22.12) or processes: npx reuseport serve --parallel --processes";
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
  const toMain = threadChannel();
  if (toMain) {
    return new RemoteMember(toMain, handles, request, threadPrefix(threadId));
  }
  if (isThreadHub()) return new HubMember(handles, request);
  try {
    return rt.listen(request);
  } catch (err) {
    if (!isMainThread && err instanceof AddrInUse) {
      throw new AddrInUse(`${err.message}: ${threadsCannotShare(handles)}`);
    }
    throw err;
  }
}

/**
 * `rt` with socket sharing, where its connections can move; as it is
 * elsewhere. The main thread becomes the hub for the workers it starts.
 */
export function withSharing(rt: Runtime): Runtime {
  const handles = rt.handles;
  if (!handles) return rt;
  startThreadHub(handles);
  return {
    ...rt,
    listen: (request) =>
      request.shared ? sharedListen(rt, handles, request) : rt.listen(request),
  };
}
