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
import { ReadQueue } from "./_read_queue.ts";
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

/** A connected socket as a `NativeStream`: pull-based reads, Deno's ref rules. */
export class NodeStream implements NativeStream {
  readonly localAddr: SocketAddress;
  readonly remoteAddr: SocketAddress;
  #socket: Socket;
  #queue: ReadQueue;
  #reading = false;
  #writes = 0;
  #readRef = true;
  #refed = true;
  #shut = false;

  constructor(socket: Socket) {
    this.#socket = socket;
    this.#queue = new ReadQueue(
      (more) => this.#flow(more),
      () => this.#updateRef(),
    );
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
    socket.on("error", (err) => this.#queue.fail(socketError(err)));
    socket.on("end", () => this.#queue.end());
    this.#updateRef();
  }

  read(buf: Uint8Array): Promise<number> {
    return this.#queue.read(buf);
  }

  #flow(more: boolean): void {
    if (!more) return void this.#socket.pause();
    if (!this.#reading) {
      this.#reading = true;
      this.#socket.on("data", (chunk: Uint8Array) => this.#queue.push(chunk));
    }
    // Accepted sockets start paused, so adding the listener is not enough.
    if (this.#socket.isPaused()) this.#socket.resume();
  }

  write(buf: Uint8Array): Promise<number> {
    if (this.#shut) {
      return Promise.reject(new BrokenPipe("Broken pipe (os error 32)"));
    }
    const failure = this.#queue.failure();
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
        if (err) reject(this.#queue.failure() ?? socketError(err));
        else resolve(buf.byteLength);
      };
    });
  }

  shutdown(): Promise<void> {
    const failure = this.#queue.failure();
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
    this.#queue.close();
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
    const want = this.#writes > 0 || (this.#queue.waiting > 0 && this.#readRef);
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
