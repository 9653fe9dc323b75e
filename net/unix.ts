/**
 * Unix domain sockets: `UnixConn`, `UnixListener`, and the Unix halves of
 * `listen` / `connect` (`net/mod.ts` dispatches on `transport`), after the
 * Unix part of Deno's `ext/net/01_net.js`, over the ops of
 * `ops/ops_unix.ts`. Also `listenDatagramUnix`, the `"unixpacket"` part of
 * `listenDatagram`: Deno's (with `--unstable-net`) on Deno, `NotSupported`
 * on Node and Bun, which have no Unix datagram socket.
 *
 * @module
 */
import {
  close,
  op_net_accept_unix,
  op_net_connect_unix,
  op_net_listen_unix,
  op_net_listen_unixpacket,
  op_net_recv_unixpacket,
  op_net_send_unixpacket,
  tryClose,
} from "../ops/mod.ts";
import { BadResource, Interrupted } from "../errors.ts";
import { type UnixAddr, unixAddr } from "./addr.ts";
import { Conn, instanceOf } from "./conn.ts";
import { connectUnixOwn, listenUnixOwn } from "../ops/own.ts";
import { Listener } from "./listener.ts";

/**
 * Options of `listen({ transport: "unix" })`, as `Deno.UnixListenOptions`,
 * plus `loadBalanced`.
 *
 * @example
 * ```ts
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { listen, type UnixListenOptions } from "@reuseport/net";
 *
 * const dir = mkdtempSync(join(tmpdir(), "unix-listen-"));
 * const options: UnixListenOptions = { path: join(dir, "s.sock") };
 * const listener = listen({ transport: "unix", ...options });
 * listener.close(); // removes the socket file
 * rmSync(dir, { recursive: true });
 * ```
 */
export interface UnixListenOptions {
  /** The socket file's path, or a Linux abstract name starting with `"\0"`. */
  path: string;
  /**
   * Share one socket between all listeners on the path (this process's, its
   * worker threads' and the parallel runner's processes', where the runtime
   * can move connections there), each connection going to one waiting
   * listener (its connections report the path resolved). Absent: on in the parallel
   * runner's workers. Deno itself throws `AddrInUse` for a second listener
   * on a path.
   */
  loadBalanced?: boolean;
}

/**
 * Options of `connect({ transport: "unix" })`, as `Deno.UnixConnectOptions`.
 *
 * @example
 * ```ts
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { connect, listen, type UnixConnectOptions } from "@reuseport/net";
 *
 * const dir = mkdtempSync(join(tmpdir(), "unix-connect-"));
 * const listener = listen({ transport: "unix", path: join(dir, "s.sock") });
 * const options: UnixConnectOptions = { transport: "unix", path: listener.addr.path };
 * const conn = await connect(options);
 * conn.close();
 * listener.close();
 * rmSync(dir, { recursive: true });
 * ```
 */
export interface UnixConnectOptions {
  /** Always `"unix"`. */
  transport: "unix";
  /** The socket file's path, or a Linux abstract name starting with `"\0"`. */
  path: string;
}

/**
 * A Unix stream connection, as `Deno.UnixConn`: a `Conn` with Unix
 * addresses (the client's end reports `path: null`, as on Deno), and no
 * `setNoDelay` / `setKeepAlive`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { connect, listen, UnixConn } from "@reuseport/net";
 *
 * const dir = mkdtempSync(join(tmpdir(), "unix-conn-"));
 * const listener = listen({ transport: "unix", path: join(dir, "s.sock") });
 * const conn = await connect({ transport: "unix", path: listener.addr.path });
 * assert.ok(conn instanceof UnixConn);
 * assert.equal(conn.remoteAddr.path, listener.addr.path);
 * conn.close();
 * listener.close();
 * rmSync(dir, { recursive: true });
 * ```
 */
export class UnixConn extends Conn<UnixAddr> {
  /**
   * `value instanceof UnixConn`: one of ours, or one of the runtime's own
   * Unix conns (native Deno's, handed out as they are where nothing is
   * emulated).
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return instanceOf(this, UnixConn, "unixConn", value);
  }
}

/** A Unix listener's accept: the next connection as a `UnixConn`. */
async function acceptUnix(rid: number): Promise<UnixConn> {
  const [connRid, localPath, remotePath] = await op_net_accept_unix(rid);
  return new UnixConn(connRid, unixAddr(remotePath), unixAddr(localPath));
}

/**
 * `Deno.UnixListener`: a `Listener` of `UnixConn`s.
 *
 * @example
 * ```ts
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { listen, type UnixListener } from "@reuseport/net";
 *
 * const dir = mkdtempSync(join(tmpdir(), "unix-listener-"));
 * const listener: UnixListener = listen({ transport: "unix", path: join(dir, "s.sock") });
 * listener.close();
 * rmSync(dir, { recursive: true });
 * ```
 */
export type UnixListener = Listener<UnixConn, UnixAddr>;

/**
 * Listens on a Unix socket, synchronously: a path that exists (a bound or a
 * stale socket, any file) throws `errors.AddrInUse` here, a missing
 * directory `errors.NotFound`, a path too long for `sun_path` a
 * `TypeError`. Closing the listener removes the socket file.
 *
 * @example
 * ```ts
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { listen } from "@reuseport/net";
 *
 * // `listen({ transport: "unix" })` comes here.
 * const dir = mkdtempSync(join(tmpdir(), "unix-"));
 * const listener = listen({ transport: "unix", path: join(dir, "s.sock") });
 * console.log(`listening on ${listener.addr.path}`);
 * listener.close();
 * rmSync(dir, { recursive: true });
 * ```
 */
export function listenUnix(options: UnixListenOptions): UnixListener {
  const loadBalanced = options.loadBalanced === undefined
    ? undefined
    : Boolean(options.loadBalanced);
  // Where nothing is emulated, the runtime's own listener, as it is.
  const own = listenUnixOwn(options.path, loadBalanced);
  if (own) return own as UnixListener;
  const [rid, path] = op_net_listen_unix(options.path, loadBalanced);
  return new Listener(rid, unixAddr(path), acceptUnix);
}

/**
 * Connects to the Unix socket at `options.path`: `errors.NotFound` if there
 * is none, `errors.ConnectionRefused` if nothing listens there.
 *
 * @example
 * ```ts
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { connect, listen } from "@reuseport/net";
 *
 * // `connect({ transport: "unix" })` comes here.
 * const dir = mkdtempSync(join(tmpdir(), "unix-"));
 * const listener = listen({ transport: "unix", path: join(dir, "s.sock") });
 * const conn = await connect({ transport: "unix", path: listener.addr.path });
 * conn.close();
 * listener.close();
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function connectUnix(
  options: UnixConnectOptions,
): Promise<UnixConn> {
  const own = connectUnixOwn(options.path);
  if (own) return await (own as Promise<UnixConn>);
  const [rid, localPath, remotePath] = await op_net_connect_unix(options.path);
  return new UnixConn(rid, unixAddr(remotePath), unixAddr(localPath));
}

/**
 * Options of `listenDatagram({ transport: "unixpacket" })`.
 *
 * @example
 * ```ts
 * import type { UnixDatagramOptions } from "@reuseport/net";
 *
 * const options: UnixDatagramOptions = { transport: "unixpacket", path: "/tmp/example.sock" };
 * console.log(options.path);
 * ```
 */
export interface UnixDatagramOptions {
  /** Always `"unixpacket"`. */
  transport: "unixpacket";
  /**
   * The socket file's path, or a Linux abstract name starting with `"\0"`;
   * absent, a socket bound to no name (`addr.path` is `null`), which can
   * send but not be sent to.
   */
  path?: string;
}

/** What a receive takes when not given a buffer: the largest datagram. */
const RECV_SIZE = 64 * 1024;

/**
 * A Unix datagram socket, as the `Deno.DatagramConn` of
 * `Deno.listenDatagram({ transport: "unixpacket" })`: `send`, `receive`,
 * `for await` over what arrives, `close`.
 *
 * @example
 * ```ts
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { errors, listenDatagramUnix, type UnixDatagramConn } from "@reuseport/net";
 *
 * const dir = mkdtempSync(join(tmpdir(), "unixpacket-"));
 * try {
 *   const socket: UnixDatagramConn = listenDatagramUnix({ transport: "unixpacket", path: join(dir, "d.sock") });
 *   socket.close();
 * } catch (err) {
 *   // Node and Bun have no Unix datagram sockets; Deno needs --unstable-net.
 *   if (!(err instanceof errors.NotSupported)) throw err;
 * }
 * rmSync(dir, { recursive: true });
 * ```
 */
export class UnixDatagramConn
  implements AsyncIterable<[Uint8Array, UnixAddr]>, Disposable {
  #rid: number;
  #addr: UnixAddr;

  /** Wraps the datagram resource `rid`; made by `listenDatagramUnix`. */
  constructor(rid: number, addr: UnixAddr) {
    this.#rid = rid;
    this.#addr = addr;
  }

  /** The bound address. */
  get addr(): UnixAddr {
    return this.#addr;
  }

  /** The next datagram (in `p`, or a new buffer) and its sender's address. */
  async receive(p?: Uint8Array): Promise<[Uint8Array, UnixAddr]> {
    const buf = p ?? new Uint8Array(RECV_SIZE);
    const [n, path] = await op_net_recv_unixpacket(this.#rid, buf);
    return [buf.subarray(0, n), unixAddr(path, "unixpacket")];
  }

  /** Sends `p` as one datagram to `addr`; resolves the bytes sent. */
  send(p: Uint8Array, addr: UnixAddr): Promise<number> {
    return op_net_send_unixpacket(this.#rid, addr.path, p);
  }

  /** Closes the socket; a pending `receive` rejects. */
  close(): void {
    close(this.#rid);
  }

  /** Closes the socket if it is open. */
  [Symbol.dispose](): void {
    tryClose(this.#rid);
  }

  /** Each datagram as it arrives, until the socket is closed. */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<
    [Uint8Array, UnixAddr]
  > {
    while (true) {
      try {
        yield await this.receive();
      } catch (err) {
        if (err instanceof BadResource || err instanceof Interrupted) break;
        throw err;
      }
    }
  }
}

/**
 * The `"unixpacket"` part of `listenDatagram`: a Unix datagram socket bound
 * at `options.path`, where the runtime has them (Deno, with
 * `--unstable-net`). Node and Bun have none: it throws `errors.NotSupported`
 * saying why, never a socket of another kind.
 *
 * @example
 * ```ts
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { errors, listenDatagramUnix } from "@reuseport/net";
 *
 * const dir = mkdtempSync(join(tmpdir(), "unixpacket-"));
 * try {
 *   listenDatagramUnix({ transport: "unixpacket", path: join(dir, "d.sock") }).close();
 * } catch (err) {
 *   console.log(err instanceof errors.NotSupported, (err as Error).message);
 * }
 * rmSync(dir, { recursive: true });
 * ```
 */
export function listenDatagramUnix(
  options: UnixDatagramOptions,
): UnixDatagramConn {
  const [rid, path] = op_net_listen_unixpacket(options.path);
  return new UnixDatagramConn(rid, unixAddr(path, "unixpacket"));
}
