/**
 * Addresses as map keys: one shared socket, hub or kernel group per bound
 * address.
 *
 * @module
 */

/** `ip:port`, or `[v6]:port`. */
export function addressKey(addr: { hostname: string; port: number }): string {
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}
