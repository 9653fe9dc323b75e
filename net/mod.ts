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

/**
 * Listens on a TCP address or, with `transport: "unix"`, on a Unix socket,
 * synchronously: a taken address throws `errors.AddrInUse` here. TCP's
 * `addr.port` is the real port when 0 was asked for; with `reusePort: true`,
 * other listeners may share the address and connections are spread across
 * them.
 *
 * @example
 * ```ts
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { listen } from "@reuseport/net";
 *
 * const tcp = listen({ hostname: "127.0.0.1", port: 0 });
 * console.log(`listening on ${tcp.addr.hostname}:${tcp.addr.port}`);
 * tcp.close();
 *
 * const dir = mkdtempSync(join(tmpdir(), "listen-"));
 * const unix = listen({ transport: "unix", path: join(dir, "s.sock") });
 * console.log(`listening on ${unix.addr.path}`);
 * unix.close();
 * rmSync(dir, { recursive: true });
 * ```
 */
// TCP's overload last: `Parameters<typeof listen>` (which takes the last)
// stays TCP's options, as before Unix sockets came.
export function listen(
  options: UnixListenOptions & { transport: "unix" },
): UnixListener;
export function listen(
  options: TcpListenOptions & { transport?: "tcp" },
): TcpListener;
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
 * Connects to a TCP address (`hostname` defaults to `127.0.0.1`) or, with
 * `transport: "unix"`, to a Unix socket.
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
export function connect(options: UnixConnectOptions): Promise<UnixConn>;
export function connect(options: ConnectOptions): Promise<TcpConn>;
export function connect(
  options: ConnectOptions | UnixConnectOptions,
): Promise<TcpConn | UnixConn> {
  return options.transport === "unix"
    ? connectUnix(options)
    : connectTcp(options);
}
