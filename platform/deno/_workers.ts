/**
 * Deno's workers and shared sockets: a listener in a worker thread cannot
 * join a socket another thread holds, and its `AddrInUse` says so, for TCP
 * (`mod.ts`) and TLS (`tls.ts`) alike.
 *
 * @module
 */
import { isMainThread } from "node:worker_threads";
import * as errors from "../../core/errors.ts";
import { translate } from "./_native.ts";

/** Whether this is a worker: a Web Worker, or a `node:worker_threads` one. */
function inWorker(): boolean {
  const scope = (globalThis as { WorkerGlobalScope?: unknown })
    .WorkerGlobalScope;
  return !isMainThread ||
    (typeof scope === "function" && globalThis instanceof scope);
}

/** Why a worker's listener could not join another thread's socket on Deno. */
function workersCannotShare(): string {
  return "another listener holds this address, and if it is in another worker thread of this process, " +
    "Deno cannot share one socket between workers (its public API has no loadBalanced across them). " +
    "On Linux, reusePort without loadBalanced gives each worker a socket of its own (the kernel strategy); or use deno serve --parallel";
}

/**
 * Deno's error of a failed bind in our classes; the `AddrInUse` of a shared
 * (emulated) listener in a worker also says why workers cannot share.
 */
export function bindError(err: unknown, shared: boolean): Error {
  const ours = translate(err);
  if (shared && inWorker() && ours instanceof errors.AddrInUse) {
    return new errors.AddrInUse(`${ours.message}: ${workersCannotShare()}`);
  }
  return ours;
}
