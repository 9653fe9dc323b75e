/**
 * Deno's workers and shared sockets: a listener in a worker thread cannot
 * join a socket another thread holds, and its `AddrInUse` says so, for TCP
 * (`mod.ts`), TLS (`tls.ts`) and UDP (`workerUdp`).
 *
 * @module
 */
import { builtin } from "../builtin.ts";
import * as errors from "../../core/errors.ts";
import type { Udp } from "../types.ts";
import { translate } from "./_native.ts";

/** Whether this is a worker: a Web Worker, or a `node:worker_threads` one. */
function inWorker(): boolean {
  const scope = (globalThis as { WorkerGlobalScope?: unknown })
    .WorkerGlobalScope;
  return !builtin("node:worker_threads").isMainThread ||
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

/** Why a worker's UDP socket could not join another thread's on Deno. */
function workersCannotShareUdp(): string {
  return "another socket holds this address, and if it is in another worker thread of this process, " +
    "Deno cannot share one UDP socket between workers, and its UDP cannot bind with SO_REUSEPORT (no kernel strategy). " +
    "Receive in one worker, or share it on Node (worker threads on Node 24 and later; reuseport serve --parallel processes) or Bun (processes)";
}

/**
 * `udp` whose shared (emulated `reusePort`) binds in a worker say, when the
 * address is taken, why workers cannot share it.
 */
export function workerUdp(udp: Udp): Udp {
  return {
    base: udp.base,
    bind(request, onDatagram) {
      try {
        return udp.bind(request, onDatagram);
      } catch (err) {
        const ours = translate(err);
        if (
          request.shared && inWorker() && ours instanceof errors.AddrInUse
        ) {
          throw new errors.AddrInUse(
            `${ours.message}: ${workersCannotShareUdp()}`,
          );
        }
        throw ours;
      }
    },
    kernelSupport: () => udp.kernelSupport(),
    resolve: (hostname, family) => udp.resolve(hostname, family),
  };
}
