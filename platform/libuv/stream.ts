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
import { ipFamily } from "../../core/ip.ts";
import { builtin } from "../builtin.ts";
import { NetError } from "../../core/messages.ts";
import { uvError } from "../errno.ts";
import type { NativeStream, SocketAddress } from "../types.ts";
import {
  loadStreamWrap,
  loadTcpWrap,
  type Req,
  type StreamWrap,
  type TcpHandle,
} from "./binding.ts";
import { hold, release } from "../loop_hold.ts";
import { PullStream } from "../pull_stream.ts";

/** libuv's end-of-stream status. */
const UV_EOF = -4095;

/** What libuv suggests for a read, and the most a read into a buffer of ours takes. */
const READ_BUFFER_SIZE = 64 * 1024;

let sharedReadBuffer: Uint8Array | undefined;

/**
 * The one buffer every connection of this thread reads into. Without it,
 * Node allocates 64 KiB per read and then shrinks (on Node 26: copies) it to
 * the bytes read. libuv calls back synchronously, one read at a time, and a
 * read's bytes are used or copied out before it reads again, so one buffer
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

/** Where a handle keeps its stream, for `onread`. */
const STREAM = Symbol("HandleStream");

/** A handle that a stream of ours reads from. */
type OwnedHandle = TcpHandle & { [STREAM]?: HandleStream<unknown> };

/**
 * Every handle's `onread`, called by Node with the handle as `this`.
 * Nothing returned: Node would take a returned value as the next buffer.
 */
function onread(this: OwnedHandle, buffer?: ArrayBuffer): void {
  HandleStream.onRead(this[STREAM]!, buffer);
}

function address(
  handle: TcpHandle,
  which: "getsockname" | "getpeername",
): SocketAddress {
  const out: Record<string, unknown> = {};
  handle[which](out);
  return { hostname: String(out.address ?? ""), port: Number(out.port ?? 0) };
}

/** The handle reads (`readStart`). */
const READING = 1;
/** Closed here. */
const CLOSED = 2;
/** The write side is shut down. */
const SHUT = 4;

/**
 * A connected TCP or pipe handle, as a `NativeStream`: `A` is its address
 * type (a pipe's addresses are given, it has no `getsockname`).
 */
export class HandleStream<A = SocketAddress> extends PullStream
  implements NativeStream<A> {
  readonly localAddr: A;
  readonly remoteAddr: A;
  #handle: OwnedHandle;
  #wrap: StreamWrap;
  // `READING | CLOSED | SHUT`: one field, not three, for every idle
  // connection holds one stream (a field is 8 bytes on Node).
  #flags = 0;
  /** Reads land in `readBuffer()`, not in a buffer of Node's per read. */
  #shared: Uint8Array | undefined;

  /**
   * `localAddr`, when the listener knows it (it is bound to one address),
   * spares a `getsockname` per connection; a pipe gives both addresses.
   */
  constructor(handle: object, localAddr?: A, remoteAddr?: A) {
    super();
    this.#handle = handle as OwnedHandle;
    this.#wrap = loadStreamWrap();
    // The listener's own address, shared: nothing writes to it.
    this.localAddr = localAddr ?? address(this.#handle, "getsockname") as A;
    this.remoteAddr = remoteAddr ??
      address(this.#handle, "getpeername") as A;
    if (this.#handle.useUserBuffer) {
      this.#shared = readBuffer();
      this.#handle.useUserBuffer(this.#shared);
    }
    // One function for every handle, not a closure each: Node calls it
    // with the handle as `this`, which leads back here.
    this.#handle[STREAM] = this;
    this.#handle.onread = onread;
    // The loop is held by `hold()` for pending operations, never by the handle.
    this.#handle.unref();
  }

  protected flow(more: boolean): void {
    if (more) this.#startReading();
    else this.#stopReading();
  }

  protected holdProcess(on: boolean): void {
    if (on) hold();
    else release();
  }

  #startReading(): void {
    if (this.#flags & (READING | CLOSED)) return;
    this.#flags |= READING;
    const status = this.#handle.readStart();
    if (status < 0) this.queue.fail(uvError(status));
  }

  #stopReading(): void {
    if (!(this.#flags & READING)) return;
    this.#flags &= ~READING;
    this.#handle.readStop();
  }

  /** What `onread` hands on: a read's bytes, its end, or its error. */
  static onRead(stream: HandleStream<unknown>, buffer?: ArrayBuffer): void {
    stream.#onRead(buffer);
  }

  #onRead(buffer?: ArrayBuffer): void {
    const { state, readBytes, bufferOffset } = this.#wrap;
    const n = state[readBytes];
    if (n > 0) {
      const shared = this.#shared;
      if (shared) return this.queue.push(shared.subarray(0, n), true);
      return this.queue.push(new Uint8Array(buffer!, state[bufferOffset], n));
    }
    // libuv found nothing to read after all (a buffer of ours hears of that).
    if (n === 0) return;
    this.#stopReading();
    // Deno reads the peer's reset as the end of the stream (the next write
    // then meets `EPIPE`), where libuv reports `ECONNRESET`.
    if (n >= 0) return;
    if (
      n === UV_EOF ||
      builtin("node:util").getSystemErrorName(n) === "ECONNRESET"
    ) {
      this.queue.end();
    } else this.queue.fail(uvError(n));
  }

  write(buf: Uint8Array): Promise<number> {
    if (this.#flags & SHUT) {
      return Promise.reject(NetError.brokenPipe());
    }
    const failure = this.queue.failure();
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
    this.writeStarted();
    return new Promise((resolve, reject) => {
      req.oncomplete = (status) => {
        this.writeDone();
        if (status < 0) reject(this.#writeError(status));
        else resolve(buf.byteLength);
      };
    });
  }

  /** A failed write's error; a write cut short by `close()` was canceled. */
  #writeError(status: number): Error {
    return this.#flags & CLOSED ? this.queue.failure()! : uvError(status);
  }

  shutdown(): Promise<void> {
    const failure = this.queue.failure();
    if (failure) return Promise.reject(failure);
    this.#flags |= SHUT;
    const req = new this.#wrap.ShutdownWrap();
    req.handle = this.#handle;
    return new Promise((resolve) => {
      this.writeStarted();
      // Done either way: the write side is shut, or the connection is gone.
      req.oncomplete = () => {
        this.writeDone();
        resolve();
      };
      if (this.#handle.shutdown(req) < 0) req.oncomplete(0);
    });
  }

  /**
   * Gives the handle up, for a socket of Node's to take over (TLS over it);
   * `undefined` where it cannot be (closed, busy, or holding bytes read
   * ahead that the taker would miss).
   */
  release(): object | undefined {
    if (this.#flags & CLOSED || this.busy || this.queue.buffered > 0) {
      return undefined;
    }
    this.#stopReading();
    this.#flags |= CLOSED;
    this.stopHolding();
    // The taker sets its own `onread`; the handle must not keep this alive.
    this.#handle[STREAM] = undefined;
    return this.#handle;
  }

  close(): void {
    if (this.#flags & CLOSED) return;
    this.#flags |= CLOSED;
    // Writes cut short complete from the loop, after the handle is gone:
    // they must not hold it.
    this.stopHolding();
    this.queue.close();
    this.#handle.close();
  }

  setNoDelay(on: boolean): void {
    if (!(this.#flags & CLOSED)) this.#handle.setNoDelay(on);
  }

  setKeepAlive(on: boolean): void {
    if (!(this.#flags & CLOSED)) this.#handle.setKeepAlive(on, 0);
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
    const status = ipFamily(ip) === 6
      ? handle.connect6(req, ip, port)
      : handle.connect(req, ip, port);
    if (status < 0) {
      signal?.removeEventListener("abort", onAbort);
      handle.close();
      reject(uvError(status));
    }
  });
}
