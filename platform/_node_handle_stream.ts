/**
 * Accepted connections on Node, driven on libuv's TCP handle directly (the
 * StreamBase calls `net.Socket` itself is built on): reads into buffers of
 * libuv's, writes that report libuv's synchronous try-write at once. Going
 * through `net.Socket`'s Readable and Writable on top of that doubled the
 * instructions spent per request (callgrind: 36k against raw `node:net`'s
 * 18k) and kept keep-alive serving at about 0.7 of `node:net`.
 *
 * @module
 */
import process from "node:process";
import { BrokenPipe } from "../errors.ts";
import { hold, release } from "./_node_loop_hold.ts";
import { ReadQueue } from "./_read_queue.ts";
import type { TcpHandle } from "./_node_listener.ts";
import { uvError } from "./_node_stream.ts";
import type { NativeStream, SocketAddress } from "./types.ts";

/** libuv's end-of-stream status. */
const UV_EOF = -4095;

/** A request object libuv completes: a write or a shutdown. */
interface Req {
  handle?: StreamHandle;
  buffer?: Uint8Array;
  oncomplete?: (status: number) => void;
}

/** The StreamBase side of a connected `tcp_wrap` handle. */
interface StreamHandle extends TcpHandle {
  readStart(): number;
  readStop(): number;
  writeBuffer(req: Req, data: Uint8Array): number;
  shutdown(req: Req): number;
  getpeername(out: Record<string, unknown>): number;
  setNoDelay(on: boolean): number;
  setKeepAlive(on: boolean, delaySeconds: number): number;
  /** `buffer` is absent when the handle reads into a buffer of ours. */
  onread: (buffer?: ArrayBuffer) => void;
  /** Reads go into `buffer` from now on, instead of a new one per read. */
  useUserBuffer?(buffer: Uint8Array): void;
}

interface StreamWrapBinding {
  WriteWrap: new () => Req;
  ShutdownWrap: new () => Req;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
}

/**
 * What the hot paths use of Node's `stream_wrap` binding, copied into an
 * object of our own once: reading a binding object's properties on every
 * read and write took generic (slow) property lookups.
 */
interface StreamWrap {
  WriteWrap: new () => Req;
  ShutdownWrap: new () => Req;
  /** Filled by every read and write: byte count or error, offset, whether a write went async. */
  state: Int32Array;
  readBytes: number;
  bufferOffset: number;
  lastWriteWasAsync: number;
}

let streamWrap: StreamWrap | undefined;

/** Node's `stream_wrap` binding: on the allow-list of `process.binding`, as `tcp_wrap` is. */
function loadStreamWrap(): StreamWrap {
  if (streamWrap) return streamWrap;
  const binding = (process as unknown as {
    binding(name: string): StreamWrapBinding;
  }).binding("stream_wrap");
  streamWrap = {
    WriteWrap: binding.WriteWrap,
    ShutdownWrap: binding.ShutdownWrap,
    state: binding.streamBaseState,
    readBytes: binding.kReadBytesOrError,
    bufferOffset: binding.kArrayBufferOffset,
    lastWriteWasAsync: binding.kLastWriteWasAsync,
  };
  return streamWrap;
}

/** What libuv suggests for a read, and what a read into a buffer of ours takes at most. */
const READ_BUFFER_SIZE = 64 * 1024;

let sharedReadBuffer: Uint8Array | undefined;

/**
 * The one buffer every connection of this thread reads into. Without it,
 * Node allocates 64 KiB per read and then shrinks (on Node 26: copies) it to
 * the bytes read. A read's bytes are used or copied out before libuv reads
 * again (it calls back synchronously, one read at a time), so one buffer
 * serves all connections.
 */
function readBuffer(): Uint8Array {
  sharedReadBuffer ??= new Uint8Array(READ_BUFFER_SIZE);
  return sharedReadBuffer;
}

/**
 * A write request that completed synchronously was never handed to libuv
 * (StreamBase makes its C++ side only for a write that goes async), so the
 * next write may use it again instead of constructing one per write.
 */
let spareWriteReq: Req | undefined;

function address(
  handle: StreamHandle,
  which: "getsockname" | "getpeername",
): SocketAddress {
  const out: Record<string, unknown> = {};
  handle[which](out);
  return { hostname: String(out.address ?? ""), port: Number(out.port ?? 0) };
}

/** A connection libuv accepted, as a `NativeStream`. */
export class HandleStream implements NativeStream {
  readonly localAddr: SocketAddress;
  readonly remoteAddr: SocketAddress;
  #handle: StreamHandle;
  #queue: ReadQueue;
  #wrap: StreamWrap;
  #reading = false;
  #closed = false;
  #shut = false;
  #writes = 0;
  #readRef = true;
  #held = false;
  /** Reads land in `readBuffer()`, not in a buffer of Node's per read. */
  #shared: Uint8Array | undefined;

  /**
   * `localAddr`, when the listener knows it (it is bound to one address),
   * spares a `getsockname` per connection.
   */
  constructor(handle: object, localAddr?: SocketAddress) {
    this.#handle = handle as StreamHandle;
    this.#wrap = loadStreamWrap();
    this.#queue = new ReadQueue(
      (more) => more ? this.#startReading() : this.#stopReading(),
      () => this.#updateRef(),
    );
    this.localAddr = localAddr
      ? { hostname: localAddr.hostname, port: localAddr.port }
      : address(this.#handle, "getsockname");
    this.remoteAddr = address(this.#handle, "getpeername");
    if (this.#handle.useUserBuffer) {
      this.#shared = readBuffer();
      this.#handle.useUserBuffer(this.#shared);
    }
    // Nothing returned: Node would take a returned value as the next buffer.
    this.#handle.onread = (buffer) => {
      this.#onRead(buffer);
    };
    // The loop is held by `hold()` for pending operations, never by the handle.
    this.#handle.unref();
  }

  read(buf: Uint8Array): Promise<number> {
    return this.#queue.read(buf);
  }

  #startReading(): void {
    if (this.#reading || this.#closed) return;
    this.#reading = true;
    const status = this.#handle.readStart();
    if (status < 0) this.#queue.fail(uvError(status));
  }

  #stopReading(): void {
    if (!this.#reading) return;
    this.#reading = false;
    this.#handle.readStop();
  }

  #onRead(buffer?: ArrayBuffer): void {
    const { state, readBytes, bufferOffset } = this.#wrap;
    const n = state[readBytes];
    if (n > 0) {
      const shared = this.#shared;
      if (shared) return this.#queue.push(shared.subarray(0, n), true);
      return this.#queue.push(new Uint8Array(buffer!, state[bufferOffset], n));
    }
    // libuv found nothing to read after all (a buffer of ours hears of that).
    if (n === 0) return;
    this.#stopReading();
    if (n === UV_EOF) this.#queue.end();
    else if (n < 0) this.#queue.fail(uvError(n));
  }

  write(buf: Uint8Array): Promise<number> {
    if (this.#shut) {
      return Promise.reject(new BrokenPipe("Broken pipe (os error 32)"));
    }
    const failure = this.#queue.failure();
    if (failure) return Promise.reject(failure);
    const req = spareWriteReq ?? new this.#wrap.WriteWrap();
    spareWriteReq = undefined;
    const status = this.#handle.writeBuffer(req, buf);
    if (status < 0) return Promise.reject(this.#writeError(status));
    // Taken by the kernel at once (libuv's try-write): report it now, as
    // Deno's write promise does, not a tick later.
    if (!this.#wrap.state[this.#wrap.lastWriteWasAsync]) {
      spareWriteReq = req;
      return Promise.resolve(buf.byteLength);
    }
    // libuv holds on to the bytes until the write completes; it calls
    // `oncomplete` from the event loop, so setting it now is in time.
    req.handle = this.#handle;
    req.buffer = buf;
    this.#writes++;
    this.#updateRef();
    return new Promise((resolve, reject) => {
      req.oncomplete = (status) => {
        this.#writes--;
        this.#updateRef();
        if (status < 0) reject(this.#writeError(status));
        else resolve(buf.byteLength);
      };
    });
  }

  /** A failed write's error; a write cut short by `close()` was canceled. */
  #writeError(status: number): Error {
    return this.#closed ? this.#queue.failure()! : uvError(status);
  }

  shutdown(): Promise<void> {
    const failure = this.#queue.failure();
    if (failure) return Promise.reject(failure);
    this.#shut = true;
    const req = new this.#wrap.ShutdownWrap();
    req.handle = this.#handle;
    return new Promise((resolve) => {
      this.#writes++;
      this.#updateRef();
      // Done either way: the write side is shut, or the connection is gone.
      req.oncomplete = () => {
        this.#writes--;
        this.#updateRef();
        resolve();
      };
      if (this.#handle.shutdown(req) < 0) req.oncomplete(0);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.close();
    this.#handle.close();
    // Writes cut short complete from the loop, after the handle is gone.
    if (this.#held) {
      this.#held = false;
      release();
    }
  }

  setNoDelay(on: boolean): void {
    if (!this.#closed) this.#handle.setNoDelay(on);
  }

  setKeepAlive(on: boolean): void {
    if (!this.#closed) this.#handle.setKeepAlive(on, 0);
  }

  setReadRef(ref: boolean): void {
    this.#readRef = ref;
    this.#updateRef();
  }

  /** Deno keeps the process alive for pending ops only, not for open sockets. */
  #updateRef(): void {
    const want = this.#writes > 0 || (this.#queue.waiting > 0 && this.#readRef);
    if (want === this.#held || this.#closed) return;
    this.#held = want;
    if (want) hold();
    else release();
  }
}

/**
 * A stream over a connection that libuv accepted (a raw `tcp_wrap` handle);
 * `localAddr` when the listener knows it.
 */
export function acceptedStream(
  handle: object,
  localAddr?: SocketAddress,
): NativeStream {
  return new HandleStream(handle, localAddr);
}
