/**
 * Addresses as map keys: one shared socket, hub or kernel group per bound
 * address: `ip:port` for TCP, the path for a Unix socket.
 *
 * @module
 */

/** A TCP address or a Unix socket's (a shared socket's address of either kind). */
export type KeyedAddress = { hostname: string; port: number } | {
  path: string | null;
};

/** Whether `addr` is a Unix socket's: it has a path, not a port. */
export function isUnixAddress(
  addr: KeyedAddress,
): addr is { path: string | null } {
  return "path" in addr;
}

/** `ip:port`, or `[v6]:port`; `unix:<path>` for a Unix socket (its path absolute). */
export function addressKey(addr: KeyedAddress): string {
  if (isUnixAddress(addr)) return `unix:${addr.path}`;
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}
