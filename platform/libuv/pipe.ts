/**
 * Unix domain sockets on libuv's pipe handle (`pipe_wrap`), the handle Node's
 * `net.Server#listen(path)` is built on: bound and listening synchronously,
 * so that `listen()` throws `AddrInUse` before it returns, and connections on
 * the same `HandleStream` as TCP's. libuv removes the socket file when the
 * listening handle closes, as Deno does.
 *
 * @module
 */
import { builtin } from "../builtin.ts";
import { NetError } from "../../core/messages.ts";
import { osError, uvError } from "../errno.ts";
import type { NativeListener, NativeStream, UnixAddress } from "../types.ts";
import { loadPipeWrap, type PipeHandle, type TcpHandle } from "./binding.ts";
import { RawAcceptor } from "./listener.ts";
import { HandleStream } from "./stream.ts";

/** The unnamed end of a connection: what the kernel reports for a client. */
const UNNAMED: UnixAddress = { path: null };

/**
 * The error Deno gives for a failed bind or connect of `path`. libuv turns
 * a missing directory (`ENOENT`) into `EACCES` on bind; Deno reports the
 * kernel's `ENOENT`.
 */
function pipeError(status: number, path: string): Error {
  if (
    builtin("node:util").getSystemErrorName(status) === "EACCES" &&
    !path.startsWith("\0") &&
    !builtin("node:fs").existsSync(builtin("node:path").dirname(path))
  ) {
    return osError("ENOENT", 2, "No such file or directory");
  }
  return uvError(status);
}

/** A listening pipe handle of this thread's own, as a `NativeListener`. */
class PipeListener implements NativeListener<UnixAddress> {
  readonly addr: UnixAddress;
  #acceptor: RawAcceptor<UnixAddress>;

  constructor(acceptor: RawAcceptor<UnixAddress>) {
    this.#acceptor = acceptor;
    this.addr = acceptor.addr;
  }

  #wrap = (raw: object): NativeStream<UnixAddress> =>
    new HandleStream<UnixAddress>(raw, this.addr, UNNAMED);

  accept(): Promise<NativeStream<UnixAddress>> {
    return this.#acceptor.next().then(this.#wrap);
  }

  setRef(ref: boolean): void {
    this.#acceptor.setRef(ref);
  }

  close(): void {
    this.#acceptor.close();
  }

  drain(): NativeStream<UnixAddress>[] {
    return this.#acceptor.drain().map(this.#wrap);
  }
}

/**
 * Binds a pipe handle at `path` and listens, as a raw acceptor (what
 * `sharing/` moves to the runner's processes); throws Deno's class for the
 * errno.
 */
export function bindPipe(
  path: string,
  backlog: number,
): RawAcceptor<UnixAddress> {
  // The pipe handle has no getsockname to learn the name the kernel picks.
  if (path === "" || path === "\0") {
    throw NetError.unixAutobind(`Node ${builtin("node:process").version}`);
  }
  const { Pipe, constants } = loadPipeWrap();
  const handle = new Pipe(constants.SERVER);
  let status = handle.bind(path);
  if (status === 0) status = handle.listen(backlog);
  if (status !== 0) {
    handle.close();
    throw pipeError(status, path);
  }
  return new RawAcceptor<UnixAddress>(handle as unknown as TcpHandle, { path });
}

/** Binds a Unix socket at `path` and listens; throws Deno's class for the errno. */
export function listenPipe(
  path: string,
  backlog: number,
): NativeListener<UnixAddress> {
  return new PipeListener(bindPipe(path, backlog));
}

/** A stream over an accepted pipe handle of the listener at `local`. */
export function pipeStream(
  raw: object,
  local: UnixAddress,
): NativeStream<UnixAddress> {
  return new HandleStream<UnixAddress>(raw, local, UNNAMED);
}

/** Connects a pipe handle to the Unix socket at `path`. */
export function connectPipe(path: string): Promise<NativeStream<UnixAddress>> {
  const { Pipe, PipeConnectWrap, constants } = loadPipeWrap();
  const handle: PipeHandle = new Pipe(constants.SOCKET);
  const req = new PipeConnectWrap();
  return new Promise((resolve, reject) => {
    req.oncomplete = (status: number) => {
      if (status < 0) {
        handle.close();
        reject(pipeError(status, path));
      } else {
        resolve(new HandleStream<UnixAddress>(handle, UNNAMED, { path }));
      }
    };
    const status = handle.connect(req, path);
    if (status < 0) {
      handle.close();
      reject(pipeError(status, path));
    }
  });
}
