/**
 * A `node:net` socket (or a `TLSSocket`, which is one) behind the
 * `NativeStream` interface, on the shared read queue, with its errors as
 * Deno's classes: what Bun passes over child_process IPC (Bun's own sockets
 * cannot be sent), and the TLS streams of `platform/tls/`.
 *
 * @module
 */
import type { Socket } from "node:net";
import { builtin } from "./builtin.ts";
import { NetError } from "../core/messages.ts";
import { codeError, isReset } from "./errno.ts";
import { PullStream } from "./pull_stream.ts";
import type { NativeStream, SocketAddress } from "./types.ts";

/** An error of `net.Socket` as Deno's class. */
function socketError(err: Error & { code?: string }): Error {
  switch (err.code) {
    case "ERR_STREAM_WRITE_AFTER_END":
      return NetError.brokenPipe();
    case "ERR_STREAM_DESTROYED":
    case "ERR_SOCKET_CLOSED":
      return NetError.canceled();
  }
  return codeError(err);
}

/** A `net.Socket` as a `NativeStream`: pull-based reads, Deno's ref rules. */
export class NetStream<A = SocketAddress> extends PullStream
  implements NativeStream<A> {
  readonly localAddr: A;
  readonly remoteAddr: A;
  /** Turns what the socket reports into Deno's error. */
  protected toError: (err: Error & { code?: string }) => Error = socketError;
  #socket: Socket;
  #reading = false;
  #shut = false;
  /** The peer reset the connection. */
  #reset = false;

  /**
   * Takes over `socket` (paused, as IPC delivers it). `addrs` are its
   * addresses where the socket does not know them (one over a stream).
   */
  constructor(
    socket: Socket,
    addrs?: { localAddr: A; remoteAddr: A },
  ) {
    super();
    this.#socket = socket;
    socket.pause();
    // Held for pending ops only (`PullStream`), never for being open.
    socket.unref();
    this.localAddr = addrs ? { ...addrs.localAddr } : {
      hostname: socket.localAddress ?? "",
      port: socket.localPort ?? 0,
    } as A;
    this.remoteAddr = addrs ? { ...addrs.remoteAddr } : {
      hostname: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    } as A;
    // Every socket error lands here, so none reaches `uncaughtException`; the
    // caller sees it on its next read or write.
    socket.on("error", (err) => {
      // Deno reads the peer's reset as the end of the stream; the next
      // write meets `EPIPE`.
      if (!this.readsAsEnd(err)) return this.queue.fail(this.toError(err));
      this.#reset = true;
      this.queue.end();
    });
    socket.on("end", () => this.ended());
  }

  /** The peer ended the stream. */
  protected ended(): void {
    this.queue.end();
  }

  /** Whether `err` reads as the end of the stream: the peer's reset, as Deno reads it. */
  protected readsAsEnd(err: unknown): boolean {
    return isReset(err);
  }

  protected flow(more: boolean): void {
    if (!more) return void this.#socket.pause();
    if (!this.#reading) {
      this.#reading = true;
      this.#socket.on("data", (chunk: Uint8Array) => this.queue.push(chunk));
    }
    this.#socket.resume();
  }

  protected holdProcess(on: boolean): void {
    if (on) this.#socket.ref();
    else this.#socket.unref();
  }

  /** The socket's own chunks, handed on whole: `data` gives each a buffer of its own. */
  readChunk(): Promise<Uint8Array<ArrayBuffer> | null> {
    return this.queue.readChunk();
  }

  write(buf: Uint8Array): Promise<number> {
    if (this.#shut || this.#reset) return Promise.reject(NetError.brokenPipe());
    const failure = this.queue.failure();
    if (failure) return Promise.reject(failure);
    this.writeStarted();
    return new Promise((resolve, reject) => {
      this.#socket.write(buf, (err) => {
        this.writeDone();
        if (this.#reset) reject(NetError.brokenPipe());
        else if (err) reject(this.queue.failure() ?? this.toError(err));
        else resolve(buf.byteLength);
      });
    });
  }

  shutdown(): Promise<void> {
    const failure = this.queue.failure();
    if (failure) return Promise.reject(failure);
    this.#shut = true;
    this.writeStarted();
    return new Promise((resolve) => {
      this.#socket.end(() => {
        this.writeDone();
        resolve();
      });
    });
  }

  close(): void {
    this.queue.close();
    // A tick later, so that a write that just completed is acknowledged
    // first rather than failed as destroyed.
    builtin("node:process").nextTick(() => this.#socket.destroy());
  }

  setNoDelay(on: boolean): void {
    this.#socket.setNoDelay(on);
  }

  setKeepAlive(on: boolean): void {
    this.#socket.setKeepAlive(on);
  }
}
