/**
 * TCP connections on libuv's TCP handle directly (the StreamBase calls
 * `net.Socket` itself is built on), accepted and connected alike: reads into
 * buffers of libuv's, writes that report libuv's synchronous try-write at
 * once. Going through `net.Socket`'s Readable and Writable on top of that
 * doubled the instructions spent per request (callgrind: 36k against raw
 * `node:net`'s 18k) and kept keep-alive serving at about 0.7 of `node:net`.
 *
 * @module
 */
import { isIP } from "node:net";
import { getSystemErrorName } from "node:util";
import { NetError } from "../../core/messages.ts";
import { ReadQueue } from "../../core/read_queue.ts";
import { uvError } from "../errno.ts";
import type { NativeStream, SocketAddress } from "../types.ts";
import { loadStreamWrap, loadTcpWrap, type TcpHandle } from "./binding.ts";

/** libuv's end-of-stream status. */
const UV_EOF = -4095;

function address(
  handle: TcpHandle,
  which: "getsockname" | "getpeername",
): SocketAddress {
  const out: Record<string, unknown> = {};
  handle[which](out);
  return { hostname: String(out.address ?? ""), port: Number(out.port ?? 0) };
}

/** A connected TCP handle, as a `NativeStream`. */
export class HandleStream implements NativeStream {
  readonly localAddr: SocketAddress;
  readonly remoteAddr: SocketAddress;
  #handle: TcpHandle;
  #queue: ReadQueue;
  #reading = false;
  #closed = false;
  #shut = false;
  #writes = 0;
  #readRef = true;
  #refed = true;

  constructor(handle: object) {
    this.#handle = handle as TcpHandle;
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
    // Deno reads the peer's reset as the end of the stream (the next write
    // then meets `EPIPE`), where libuv reports `ECONNRESET`.
    if (n >= 0) return;
    if (n === UV_EOF || getSystemErrorName(n) === "ECONNRESET") {
      this.#queue.end();
    } else this.#queue.fail(uvError(n));
  }

  write(buf: Uint8Array): Promise<number> {
    if (this.#shut) {
      return Promise.reject(NetError.brokenPipe());
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

/**
 * Connects a TCP handle to `ip:port` (an IP literal); `signal` aborts,
 * rejecting with its reason.
 */
export function connectHandle(
  ip: string,
  port: number,
  signal?: AbortSignal,
): Promise<NativeStream> {
  const { TCP, TCPConnectWrap, constants } = loadTcpWrap();
  const handle = new TCP(constants.SOCKET);
  const req = new TCPConnectWrap();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      handle.close();
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    req.oncomplete = (status: number) => {
      if (signal?.aborted) return;
      signal?.removeEventListener("abort", onAbort);
      if (status < 0) {
        handle.close();
        reject(uvError(status));
      } else resolve(new HandleStream(handle));
    };
    const status = isIP(ip) === 6
      ? handle.connect6(req, ip, port)
      : handle.connect(req, ip, port);
    if (status < 0) {
      signal?.removeEventListener("abort", onAbort);
      handle.close();
      reject(uvError(status));
    }
  });
}
