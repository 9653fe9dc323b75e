/**
 * libuv's TCP handle as Node exposes it to itself (`tcp_wrap`,
 * `stream_wrap`), and as Deno's Node layer imitates it: the one place that
 * loads these bindings and types them.
 *
 * `net.Server#listen(port, host)` binds only after an asynchronous DNS step,
 * so its errors and its port arrive a tick later; the TCP handle, which
 * `net.Server` and `net.Socket` are built on, binds and listens synchronously
 * and returns the errno, so `listen()` can throw `AddrInUse` and report the
 * real port before it returns. Running connections on the handle directly
 * skips `net.Socket`'s Readable and Writable layers. The pipe handle
 * (`pipe_wrap`) does the same for Unix domain sockets. `process.binding` has
 * these on its allow-list (DEP0111 warns only under
 * `--pending-deprecation`), and the handles go to nothing but this package.
 *
 * @module
 */
import { builtin } from "../builtin.ts";

/** A request object libuv completes: a write, a shutdown, a connect. */
export interface Req {
  handle?: TcpHandle;
  buffer?: Uint8Array;
  oncomplete?: (status: number, ...rest: unknown[]) => void;
}

/** libuv's TCP handle (`tcp_wrap.TCP`): the listening and the stream side. */
export interface TcpHandle {
  bind(ip: string, port: number, flags?: number): number;
  /** Deno's Node compatibility layer: `bind` ignores flags there, this takes them. */
  bindWithFlags?(ip: string, port: number, flags: number): number;
  bind6(ip: string, port: number, flags: number): number;
  listen(backlog: number): number;
  connect(req: Req, ip: string, port: number): number;
  connect6(req: Req, ip: string, port: number): number;
  getsockname(out: Record<string, unknown>): number;
  getpeername(out: Record<string, unknown>): number;
  close(): void;
  ref(): void;
  unref(): void;
  /** Deno's Node compatibility layer: fills `client` with the next connection. */
  accept?(client: TcpHandle): number;
  onconnection: ((status: number, client?: object) => void) | null;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: Req, data: Uint8Array): number;
  shutdown(req: Req): number;
  setNoDelay(on: boolean): number;
  setKeepAlive(on: boolean, delaySeconds: number): number;
  /** `buffer` is absent when the handle reads into a buffer of ours. */
  onread: (buffer?: ArrayBuffer) => void;
  /** Reads go into `buffer` from now on, instead of a new one per read. */
  useUserBuffer?(buffer: Uint8Array): void;
}

/** `tcp_wrap`. */
export interface TcpWrap {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => Req;
  constants: { SOCKET: number; SERVER: number; UV_TCP_REUSEPORT?: number };
}

/**
 * libuv's pipe handle (`pipe_wrap.Pipe`), a Unix domain socket on Unix: the
 * same stream side as the TCP handle, and its own bind and connect. It has
 * no `getsockname`: the path is what was bound or connected to.
 */
export type PipeHandle =
  & Omit<
    TcpHandle,
    | "bind"
    | "bindWithFlags"
    | "bind6"
    | "connect"
    | "connect6"
    | "getsockname"
    | "getpeername"
    | "setNoDelay"
    | "setKeepAlive"
  >
  & {
    bind(path: string): number;
    connect(req: Req, path: string): number;
  };

/** `pipe_wrap`. */
export interface PipeWrap {
  Pipe: new (type: number) => PipeHandle;
  PipeConnectWrap: new () => Req;
  constants: { SOCKET: number; SERVER: number };
}

/** The `stream_wrap` binding as Node exports it. */
interface StreamWrapBinding {
  WriteWrap: new () => Req;
  ShutdownWrap: new () => Req;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
}

/**
 * `stream_wrap`: write and shutdown requests, and where reads and writes
 * report. Copied out of the binding object into one of ours once: reading
 * the binding's own properties on every read and write took generic (slow)
 * property lookups.
 */
export interface StreamWrap {
  WriteWrap: new () => Req;
  ShutdownWrap: new () => Req;
  /** Filled by every read and write: byte count or error, buffer offset, whether a write went async. */
  state: Int32Array;
  readBytes: number;
  bufferOffset: number;
  lastWriteWasAsync: number;
}

let tcpWrap: TcpWrap | undefined;
let pipeWrap: PipeWrap | undefined;
let streamWrap: StreamWrap | undefined;

function binding<T>(name: string): T {
  return (builtin("node:process") as unknown as { binding(name: string): T })
    .binding(name);
}

/** `tcp_wrap`, loaded on first use. */
export function loadTcpWrap(): TcpWrap {
  tcpWrap ??= binding<TcpWrap>("tcp_wrap");
  return tcpWrap;
}

/** `pipe_wrap`, loaded on first use. */
export function loadPipeWrap(): PipeWrap {
  pipeWrap ??= binding<PipeWrap>("pipe_wrap");
  return pipeWrap;
}

/** `stream_wrap`, loaded on first use. */
export function loadStreamWrap(): StreamWrap {
  if (streamWrap) return streamWrap;
  const wrap = binding<StreamWrapBinding>("stream_wrap");
  streamWrap = {
    WriteWrap: wrap.WriteWrap,
    ShutdownWrap: wrap.ShutdownWrap,
    state: wrap.streamBaseState,
    readBytes: wrap.kReadBytesOrError,
    bufferOffset: wrap.kArrayBufferOffset,
    lastWriteWasAsync: wrap.kLastWriteWasAsync,
  };
  return streamWrap;
}
