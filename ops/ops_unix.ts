/**
 * The Unix socket ops, with the names and shapes of Deno's
 * `ext/net/ops_unix.rs`, on the same resource table and streams as TCP's:
 * `op_net_listen_unix`, `op_net_accept_unix`, `op_net_connect_unix`, and
 * the datagram ones (`op_net_listen_unixpacket`, `op_net_send_unixpacket`,
 * `op_net_recv_unixpacket`), which throw `NotSupported` where the runtime
 * has no Unix datagram socket.
 *
 * @module
 */
import { builtin } from "../platform/builtin.ts";
import { NetError } from "../core/messages.ts";
import type {
  NativeUnixDatagram,
  UnixAddress,
  UnixSockets,
} from "../platform/types.ts";
import { StreamResource } from "./io.ts";
import { type Resource, resourceTable } from "./resources.ts";
import { runtime } from "./runtime.ts";
import { connections, ListenerResource, type ListenSocket } from "./tcp.ts";
import { listenHook } from "./hooks.ts";

/** `sizeof(sockaddr_un.sun_path)` on Linux. */
const SUN_PATH = 108;

/** Deno's backlog for a Unix listener (Rust's `UnixListener::bind`). */
const UNIX_BACKLOG = 128;

/** A connected Unix stream in the resource table. */
export class UnixStreamResource extends StreamResource<UnixAddress> {
  readonly name = "unixStream";
}

/** A Unix socket listener in the resource table. */
export class UnixListenerResource extends ListenerResource<UnixAddress> {
  readonly name = "unixListener";
}

/** A Unix datagram socket in the resource table. */
class UnixDatagramResource implements Resource {
  readonly name = "unixDatagram";
  readonly socket: NativeUnixDatagram;

  constructor(socket: NativeUnixDatagram) {
    this.socket = socket;
  }

  close(): void {
    this.socket.close();
  }
}

/** A Unix socket's listeners. */
const unixListener = (
  socket: ListenSocket<UnixAddress>,
): UnixListenerResource => new UnixListenerResource(socket);

/** The runtime's Unix sockets (every runtime adapter has them; a fake may not). */
function unix(): UnixSockets {
  const sockets = runtime().unix;
  if (!sockets) throw NetError.unixUnsupported(runtime().name);
  return sockets;
}

/**
 * Checks a Unix socket path as Deno does: it must fit `sun_path` (a Linux
 * abstract name, `"\0name"`, may fill it; a path needs room for its NUL)
 * and hold no NUL byte inside a path.
 */
function validatePath(path: string): string {
  const bytes = builtin("node:buffer").Buffer.byteLength(path);
  if (path.startsWith("\0")) {
    if (bytes > SUN_PATH) throw NetError.abstractNameTooLong();
  } else {
    if (path.includes("\0")) throw NetError.unixPathNul();
    if (bytes >= SUN_PATH) throw NetError.unixPathTooLong();
  }
  return path;
}

/**
 * Binds and listens on the Unix socket `path` before it returns: an existing
 * file there (a socket still bound, or a stale one) throws `AddrInUse`, a
 * missing directory `NotFound`. Closing the listener removes the socket
 * file, as Deno does. With `loadBalanced` (absent: on in the parallel
 * runner's workers, off elsewhere), listeners on the same path share the one
 * socket, each connection going to one waiting listener: this process's,
 * its worker threads' and the runner's processes', where the runtime can
 * move connections there (Deno would throw `AddrInUse` for the second); the
 * socket is then bound by the resolved path, which its connections report.
 * Returns `[rid, path]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { close, op_net_listen_unix } from "@reuseport/net/ops";
 *
 * const dir = mkdtempSync(join(tmpdir(), "ops-unix-"));
 * const [rid, path] = op_net_listen_unix(join(dir, "s.sock"));
 * assert.equal(path, join(dir, "s.sock"));
 * const [a] = op_net_listen_unix(join(dir, "lb.sock"), true);
 * const [b] = op_net_listen_unix(join(dir, "lb.sock"), true); // shares a's socket
 * for (const r of [rid, a, b]) close(r);
 * rmSync(dir, { recursive: true });
 * ```
 */
export function op_net_listen_unix(
  path: string,
  loadBalanced?: boolean,
): [number, string | null] {
  // Deno takes whatever it is given as a string.
  const name = validatePath(String(path));
  const sockets = unix();
  // An empty path asks the kernel for a name: nothing to share.
  const shared = (loadBalanced ?? listenHook()?.loadBalanced ?? false) &&
    name !== "" && name !== "\0";
  // One socket per path, however it is spelled: a relative path resolved.
  const bound = shared && !name.startsWith("\0")
    ? builtin("node:path").resolve(name)
    : name;
  const listener = connections.listenShared(
    shared ? `unix:${bound}` : undefined,
    () => sockets.listen(bound, UNIX_BACKLOG, shared),
    unixListener,
  );
  // The path as given, as Deno reports it, where a shared socket is bound
  // by its resolved path; the kernel's name for an empty one.
  return [resourceTable.add(listener), shared ? name : listener.addr.path];
}

/**
 * The next connection of the Unix listener `rid`, as `[rid, localPath,
 * remotePath]` (a client's end has no path: `null`). Rejects with
 * `BadResource: Listener has been closed` once the listener is closed, and
 * with `Busy` while another accept is pending on it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { close, op_net_accept_unix, op_net_connect_unix, op_net_listen_unix } from "@reuseport/net/ops";
 *
 * const dir = mkdtempSync(join(tmpdir(), "ops-unix-"));
 * const [lrid, path] = op_net_listen_unix(join(dir, "s.sock"));
 * const accepted = op_net_accept_unix(lrid);
 * const [crid] = await op_net_connect_unix(path!);
 * const [srid, local, remote] = await accepted;
 * assert.equal(local, path);
 * assert.equal(remote, null);
 * for (const rid of [crid, srid, lrid]) close(rid);
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function op_net_accept_unix(
  rid: number,
): Promise<[number, string | null, string | null]> {
  let listener: UnixListenerResource;
  try {
    listener = resourceTable.get(rid, UnixListenerResource);
  } catch {
    throw NetError.listenerClosed();
  }
  const stream = await listener.accept();
  const connRid = resourceTable.add(new UnixStreamResource(stream));
  return [connRid, stream.localAddr.path, stream.remoteAddr.path];
}

/**
 * Connects to the Unix socket at `path`; returns `[rid, localPath,
 * remotePath]`. A path with no socket rejects with `NotFound`, a file that
 * is no listening socket with `ConnectionRefused`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { close, op_net_connect_unix, op_net_listen_unix } from "@reuseport/net/ops";
 *
 * const dir = mkdtempSync(join(tmpdir(), "ops-unix-"));
 * const [lrid, path] = op_net_listen_unix(join(dir, "s.sock"));
 * const [crid, local, remote] = await op_net_connect_unix(path!);
 * assert.equal(local, null);
 * assert.equal(remote, path);
 * close(crid);
 * close(lrid);
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function op_net_connect_unix(
  path: string,
): Promise<[number, string | null, string | null]> {
  // What Deno's connect makes of a name that is no string, or an empty one.
  if (typeof path !== "string" || path === "" || path === "\0") {
    throw NetError.unixPathInvalid();
  }
  const stream = await unix().connect(validatePath(path));
  const rid = resourceTable.add(new UnixStreamResource(stream));
  return [rid, stream.localAddr.path, stream.remoteAddr.path];
}

/**
 * Binds a Unix datagram socket at `path` (none: an unnamed one, whose path
 * is `null`, as Deno's); returns `[rid, path]`. Where the
 * runtime has none (Node, Bun, Deno without `--unstable-net`) it throws
 * `NotSupported` saying why.
 *
 * @example
 * ```ts
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { close, op_net_listen_unixpacket } from "@reuseport/net/ops";
 * import { errors } from "@reuseport/net";
 *
 * const dir = mkdtempSync(join(tmpdir(), "ops-unixpacket-"));
 * try {
 *   const [rid] = op_net_listen_unixpacket(join(dir, "d.sock"));
 *   close(rid);
 * } catch (err) {
 *   if (!(err instanceof errors.NotSupported)) throw err;
 * }
 * rmSync(dir, { recursive: true });
 * ```
 */
export function op_net_listen_unixpacket(
  path?: string | null,
): [number, string | null] {
  const sockets = unix();
  if (!sockets.listenDatagram) {
    throw NetError.unixDatagramUnsupported(sockets.datagramReason);
  }
  // No path is Deno's `Option<String>` None: a socket bound to no name.
  const socket = sockets.listenDatagram(
    path === undefined || path === null
      ? undefined
      : validatePath(String(path)),
  );
  return [
    resourceTable.add(new UnixDatagramResource(socket)),
    socket.addr.path,
  ];
}

/** The datagram socket at `rid`; `BadResource` if there is none. */
function datagramOf(rid: number): NativeUnixDatagram {
  return resourceTable.get(rid, UnixDatagramResource).socket;
}

/**
 * Sends `buf` as one datagram from the socket `rid` to the socket at
 * `path`; resolves the bytes sent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { op_net_send_unixpacket } from "@reuseport/net/ops";
 *
 * await assert.rejects(op_net_send_unixpacket(123456, "/tmp/none", new Uint8Array(1)));
 * ```
 */
export async function op_net_send_unixpacket(
  rid: number,
  path: string | null,
  buf: Uint8Array,
): Promise<number> {
  // The path of a socket bound to no name is null: Deno sends to "" then
  // (the kernel's EINVAL), not to a file named "null".
  const to = path === null || path === undefined ? "" : String(path);
  return await datagramOf(rid).send(buf, validatePath(to));
}

/**
 * The next datagram on the socket `rid`, into `buf`: `[byteCount,
 * senderPath]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { op_net_recv_unixpacket } from "@reuseport/net/ops";
 *
 * await assert.rejects(op_net_recv_unixpacket(123456, new Uint8Array(8)));
 * ```
 */
export async function op_net_recv_unixpacket(
  rid: number,
  buf: Uint8Array,
): Promise<[number, string | null]> {
  return await datagramOf(rid).receive(buf);
}
