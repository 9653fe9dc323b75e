/**
 * `listen` and `connect` as Deno has them: one function each for every
 * stream transport, dispatching on `transport` (`"tcp"`, the default, to
 * `net/tcp.ts`; `"unix"` to `net/unix.ts`).
 *
 * @module
 */
import {
  connect as connectTcp,
  type ConnectOptions,
  listen as listenTcp,
  type TcpConn,
  type TcpListener,
  type TcpListenOptions,
} from "./tcp.ts";
import {
  connectUnix,
  listenUnix,
  type UnixConn,
  type UnixConnectOptions,
  type UnixListener,
  type UnixListenOptions,
} from "./unix.ts";

// TCP's overloads come last: `Parameters<typeof listen>` (which takes the
// last) stays TCP's options, as before Unix sockets came.

/**
 * Listens on a Unix socket, synchronously: an existing file at the path
 * throws `errors.AddrInUse` here; closing the listener removes the socket
 * file.
 *
 * @example
 * ```ts
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { listen } from "@reuseport/net";
 *
 * const dir = mkdtempSync(join(tmpdir(), "listen-"));
 * const listener = listen({ transport: "unix", path: join(dir, "s.sock") });
 * console.log(`listening on ${listener.addr.path}`);
 * listener.close();
 * rmSync(dir, { recursive: true });
 * ```
 */
export function listen(
  options: UnixListenOptions & { transport: "unix" },
): UnixListener;
/**
 * Listens on a TCP address, synchronously: a taken address throws
 * `errors.AddrInUse` here, and `addr.port` is the real port when 0 was asked
 * for. With `reusePort: true`, other listeners may share the address and
 * connections are spread across them.
 *
 * @example
 * ```ts
 * import { listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * console.log(`listening on ${listener.addr.hostname}:${listener.addr.port}`);
 * listener.close();
 * ```
 */
export function listen(
  options: TcpListenOptions & { transport?: "tcp" },
): TcpListener;
/**
 * Either of the above, by `options.transport`: `"unix"`, or TCP's (the
 * default; any other is a `TypeError`, as in Deno).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listen } from "@reuseport/net";
 *
 * assert.throws(() => listen({ transport: "udp" } as never), TypeError);
 * ```
 */
export function listen(
  options:
    | (TcpListenOptions & { transport?: "tcp" })
    | (UnixListenOptions & { transport: "unix" }),
): TcpListener | UnixListener {
  return options.transport === "unix"
    ? listenUnix(options)
    : listenTcp(options);
}

/**
 * Connects to a Unix socket: `errors.NotFound` if there is none at the
 * path, `errors.ConnectionRefused` if nothing listens on it.
 *
 * @example
 * ```ts
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { connect, listen } from "@reuseport/net";
 *
 * const dir = mkdtempSync(join(tmpdir(), "connect-"));
 * const listener = listen({ transport: "unix", path: join(dir, "s.sock") });
 * const conn = await connect({ transport: "unix", path: listener.addr.path });
 * conn.close();
 * listener.close();
 * rmSync(dir, { recursive: true });
 * ```
 */
export function connect(options: UnixConnectOptions): Promise<UnixConn>;
/**
 * Connects to a TCP address; `hostname` defaults to `127.0.0.1`.
 *
 * @example
 * ```ts
 * import { connect, listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * const conn = await connect({ port: listener.addr.port });
 * console.log(conn.remoteAddr.port === listener.addr.port);
 * conn.close();
 * listener.close();
 * ```
 */
export function connect(options: ConnectOptions): Promise<TcpConn>;
/**
 * Either of the above, by `options.transport`: `"unix"`, or TCP's (the
 * default; any other rejects with a `TypeError`, as in Deno).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "@reuseport/net";
 *
 * await assert.rejects(connect({ transport: "udp", port: 9 } as never), TypeError);
 * ```
 */
export function connect(
  options: ConnectOptions | UnixConnectOptions,
): Promise<TcpConn | UnixConn> {
  return options.transport === "unix"
    ? connectUnix(options)
    : connectTcp(options);
}
