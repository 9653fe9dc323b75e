/**
 * Connected TCP streams on Node: `net.Socket` behind the `NativeStream`
 * interface, with Node's errors mapped to Deno's classes.
 *
 * @module
 */
import { Socket } from "node:net";
import process from "node:process";
import { getSystemErrorMap, getSystemErrorName } from "node:util";
import { BrokenPipe, Interrupted } from "../errors.ts";
import { osError } from "./_os_errors.ts";
import type { NativeStream, SocketAddress } from "./types.ts";

/** Maps a libuv status code (negative errno) to Deno's class. */
export function uvError(status: number): Error {
  const name = getSystemErrorName(status);
  const text = getSystemErrorMap().get(status)?.[1] ?? name;
  return osError(name, -status, text[0].toUpperCase() + text.slice(1));
}

/** Maps an error from `net.Socket` to Deno's class. */
export function socketError(
  err: Error & { code?: string; errno?: number },
): Error {
  if (typeof err.errno === "number" && err.errno < 0) return uvError(err.errno);
  switch (err.code) {
    case "ERR_STREAM_WRITE_AFTER_END":
      return new BrokenPipe("Broken pipe (os error 32)");
    case "ERR_STREAM_DESTROYED":
    case "ERR_SOCKET_CLOSED":
      return new Interrupted("operation canceled");
  }
  return err;
}

const READ_HIGH_WATER = 64 * 1024;

/** A connected socket as a `NativeStream`: pull-based reads, Deno's ref rules. */
export class NodeStream implements NativeStream {
  readonly localAddr: SocketAddress;
  readonly remoteAddr: SocketAddress;
  #socket: Socket;
  /** Data read from the socket and not yet handed to a `read()`. */
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #reading = false;
  #eof = false;
  #error: Error | null = null;
  #closed = false;
  /** Pending reads, served in order, as Deno queues concurrent reads. */
  #reads: {
    buf: Uint8Array;
    resolve(n: number): void;
    reject(e: Error): void;
  }[] = [];
  #writes = 0;
  #readRef = true;
  #refed = true;
  #shut = false;

  constructor(socket: Socket) {
    this.#socket = socket;
    this.localAddr = {
      hostname: socket.localAddress ?? "",
      port: socket.localPort ?? 0,
    };
    this.remoteAddr = {
      hostname: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    };
    // Every socket error lands here, so none reaches `uncaughtException`; the
    // caller sees it on its next read or write.
    socket.on("error", (err) => this.#fail(socketError(err)));
    socket.on("end", () => {
      this.#eof = true;
      this.#settleRead();
    });
    this.#updateRef();
  }

  read(buf: Uint8Array): Promise<number> {
    if (this.#buffered > 0) return Promise.resolve(this.#take(buf));
    const failure = this.#failure();
    if (failure) return Promise.reject(failure);
    if (this.#eof) return Promise.resolve(0);
    return new Promise((resolve, reject) => {
      this.#reads.push({ buf, resolve, reject });
      this.#updateRef();
      if (!this.#reading) {
        this.#reading = true;
        this.#socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
      }
      // Accepted sockets start paused, so adding the listener is not enough.
      if (this.#socket.isPaused()) this.#socket.resume();
    });
  }

  #onData(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
    if (this.#reads.length > 0) this.#settleRead();
    else if (this.#buffered >= READ_HIGH_WATER) this.#socket.pause();
  }

  /** Copies buffered data into `buf`; resumes the socket once it drained. */
  #take(buf: Uint8Array): number {
    let n = 0;
    while (n < buf.byteLength && this.#chunks.length > 0) {
      const chunk = this.#chunks[0];
      const count = Math.min(chunk.byteLength, buf.byteLength - n);
      buf.set(count === chunk.byteLength ? chunk : chunk.subarray(0, count), n);
      n += count;
      if (count === chunk.byteLength) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(count);
    }
    this.#buffered -= n;
    if (
      this.#buffered < READ_HIGH_WATER && this.#reading && !this.#eof &&
      this.#socket.isPaused()
    ) this.#socket.resume();
    return n;
  }

  #settleRead(): void {
    while (this.#reads.length > 0) {
      const read = this.#reads[0];
      if (this.#buffered > 0) read.resolve(this.#take(read.buf));
      else if (this.#error) read.reject(this.#error);
      else if (this.#eof) read.resolve(0);
      else break;
      this.#reads.shift();
    }
    this.#updateRef();
  }

  /** What ended the stream, if anything did; a close reads as `Interrupted`. */
  #failure(): Error | null {
    if (!this.#error && this.#closed) {
      this.#error = new Interrupted("operation canceled");
    }
    return this.#error;
  }

  #fail(err: Error): void {
    this.#error ??= err;
    this.#settleRead();
  }

  write(buf: Uint8Array): Promise<number> {
    if (this.#shut) {
      return Promise.reject(new BrokenPipe("Broken pipe (os error 32)"));
    }
    const failure = this.#failure();
    if (failure) return Promise.reject(failure);
    let done: ((err?: Error | null) => void) | undefined;
    this.#socket.write(buf, (err) => done?.(err));
    // Written straight into the kernel (libuv's synchronous try-write): that
    // is what Deno's write promise reports, so report it now, not a tick later.
    // A synchronous failure shows in `errored` only; its callback comes later.
    if (this.#socket.writableLength === 0 && !this.#socket.errored) {
      return Promise.resolve(buf.byteLength);
    }
    this.#writes++;
    this.#updateRef();
    return new Promise((resolve, reject) => {
      done = (err) => {
        this.#writes--;
        this.#updateRef();
        if (err) reject(this.#failure() ?? socketError(err));
        else resolve(buf.byteLength);
      };
    });
  }

  shutdown(): Promise<void> {
    const failure = this.#failure();
    if (failure) return Promise.reject(failure);
    this.#shut = true;
    return new Promise((resolve) => {
      this.#writes++;
      this.#updateRef();
      this.#socket.end(() => {
        this.#writes--;
        this.#updateRef();
        resolve();
      });
    });
  }

  close(): void {
    // The error (and its stack trace) is made only for a caller that will see
    // it: making one for every connection cost more than the rest of closing.
    this.#closed = true;
    if (this.#reads.length > 0) this.#fail(this.#failure()!);
    this.#chunks = [];
    this.#buffered = 0;
    // After the write that just completed has been acknowledged (Node does
    // that a tick later): destroying before would make Node build, and drop,
    // an ERR_STREAM_DESTROYED error with its stack on every close.
    process.nextTick(() => this.#socket.destroy());
  }

  setNoDelay(on: boolean): void {
    this.#socket.setNoDelay(on);
  }

  setKeepAlive(on: boolean): void {
    this.#socket.setKeepAlive(on);
  }

  setReadRef(ref: boolean): void {
    this.#readRef = ref;
    this.#updateRef();
  }

  /** Deno keeps the process alive for pending ops only, not for open sockets. */
  #updateRef(): void {
    const want = this.#writes > 0 || (this.#reads.length > 0 && this.#readRef);
    if (want === this.#refed) return;
    this.#refed = want;
    if (want) this.#socket.ref();
    else this.#socket.unref();
  }
}

/**
 * A stream over an accepted `tcp_wrap` handle through `net.Socket`: for
 * Deno's Node layer, whose handles are not libuv's.
 */
export function socketStream(handle: object): NativeStream {
  return new NodeStream(
    new Socket(
      {
        handle,
        allowHalfOpen: true,
        pauseOnCreate: true,
        readable: true,
        writable: true,
      } as ConstructorParameters<typeof Socket>[0],
    ),
  );
}
