/**
 * Resolving a listen address synchronously where the runtime's resolver is
 * reachable synchronously only through a bind (Deno, Bun): bind port 0 on the
 * name, read back the address, close.
 *
 * @module
 */
import type { BindRequest, SocketAddress } from "./types.ts";

/** The IP a listener on `hostname` would bind, found by binding one with `listen`. */
export function resolveByBinding(
  listen: (request: BindRequest) => { addr: SocketAddress; close(): void },
  hostname: string,
): string {
  const probe = listen({ hostname, port: 0, backlog: 1, reusePort: false });
  probe.close();
  return probe.addr.hostname;
}
