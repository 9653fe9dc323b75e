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
  onread: (buffer: ArrayBuffer) => void;
}

interface StreamWrap {
  WriteWrap: new () => Req;
  ShutdownWrap: new () => Req;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
}

let streamWrap: StreamWrap | undefined;

/** Node's `stream_wrap` binding: on the allow-list of `process.binding`, as `tcp_wrap` is. */
function loadStreamWrap(): StreamWrap {
  streamWrap ??= (process as unknown as { binding(name: string): StreamWrap })
    .binding("stream_wrap");
  return streamWrap;
}

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
  #reading = false;
  #closed = false;
  #shut = false;
  #writes = 0;
  #readRef = true;
  #refed = true;

  constructor(handle: object) {
    this.#handle = handle as StreamHandle;
    this.#queue = new ReadQueue(
      (more) => more ? this.#startReading() : this.#stopReading(),
      () => this.#updateRef(),
    );
    this.localAddr = address(this.#handle, "getsockname");
    this.remoteAddr = address(this.#handle, "getpeername");
    this.#handle.onread = (buffer) => this.#onRead(buffer);
    this.#updateRef();
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

  #onRead(buffer: ArrayBuffer): void {
    const { streamBaseState, kReadBytesOrError, kArrayBufferOffset } =
      loadStreamWrap();
    const n = streamBaseState[kReadBytesOrError];
    if (n > 0) {
      const offset = streamBaseState[kArrayBufferOffset];
      return this.#queue.push(new Uint8Array(buffer, offset, n));
    }
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
    const { WriteWrap, streamBaseState, kLastWriteWasAsync } = loadStreamWrap();
    const req = new WriteWrap();
    req.handle = this.#handle;
    // libuv holds on to the bytes until the write completes.
    req.buffer = buf;
    let complete: ((status: number) => void) | undefined;
    req.oncomplete = (status) => complete?.(status);
    const status = this.#handle.writeBuffer(req, buf);
    if (status < 0) return Promise.reject(this.#writeError(status));
    // Taken by the kernel at once (libuv's try-write): report it now, as
    // Deno's write promise does, not a tick later.
    if (!streamBaseState[kLastWriteWasAsync]) {
      return Promise.resolve(buf.byteLength);
    }
    this.#writes++;
    this.#updateRef();
    return new Promise((resolve, reject) => {
      complete = (status) => {
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
    const { ShutdownWrap } = loadStreamWrap();
    const req = new ShutdownWrap();
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
    if (want === this.#refed || this.#closed) return;
    this.#refed = want;
    if (want) this.#handle.ref();
    else this.#handle.unref();
  }
}

/** A stream over a connection that libuv accepted (a raw `tcp_wrap` handle). */
export function acceptedStream(handle: object): NativeStream {
  return new HandleStream(handle);
}
