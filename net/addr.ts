/**
 * Addresses as the API reports them, after Deno's `Deno.NetAddr`.
 *
 * @module
 */
import type { SocketAddress } from "../ops/mod.ts";

/**
 * A TCP address, as `Deno.NetAddr`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listen, type NetAddr } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * const addr: NetAddr = listener.addr;
 * assert.equal(addr.transport, "tcp");
 * assert.equal(addr.hostname, "127.0.0.1");
 * listener.close();
 * ```
 */
export interface NetAddr {
  /** Always `"tcp"` here. */
  transport: "tcp";
  /** IP literal. */
  hostname: string;
  /** Port number. */
  port: number;
}

/** An op's address as the API reports it. */
export function netAddr(addr: SocketAddress): NetAddr {
  return { hostname: addr.hostname, port: addr.port, transport: "tcp" };
}

/** Deno's error for a transport a function does not take. */
export function unsupportedTransport(transport: unknown): TypeError {
  return new TypeError(`Unsupported transport: '${transport}'`);
}
