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

/**
 * A Unix socket address, as `Deno.UnixAddr`: the socket file's path, or a
 * Linux abstract name starting with `"\0"`. As on Deno, the unnamed end of
 * a connection (a client's) reports `path: null`, whatever the type says.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { listen, type UnixAddr } from "@reuseport/net";
 *
 * const dir = mkdtempSync(join(tmpdir(), "unix-addr-"));
 * const listener = listen({ transport: "unix", path: join(dir, "s.sock") });
 * const addr: UnixAddr = listener.addr;
 * assert.equal(addr.transport, "unix");
 * listener.close();
 * rmSync(dir, { recursive: true });
 * ```
 */
export interface UnixAddr {
  /** `"unix"` for streams, `"unixpacket"` for datagrams. */
  transport: "unix" | "unixpacket";
  /** The path or abstract name. */
  path: string;
}

/** A Unix op's path as the API reports it. */
export function unixAddr(
  path: string | null,
  transport: "unix" | "unixpacket" = "unix",
): UnixAddr {
  // Deno reports `null` for an unnamed socket, though its type says string.
  return { transport, path: path as string };
}

/** An op's address as the API reports it. */
export function netAddr(addr: SocketAddress): NetAddr {
  return { hostname: addr.hostname, port: addr.port, transport: "tcp" };
}

/** Deno's error for a transport a function does not take. */
export function unsupportedTransport(transport: unknown): TypeError {
  return new TypeError(`Unsupported transport: '${transport}'`);
}
