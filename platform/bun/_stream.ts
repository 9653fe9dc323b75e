/**
 * Connected TCP streams on Bun: a socket of `Bun.listen` or `Bun.connect`
 * behind the `NativeStream` interface. Bun hands data to callbacks, so the
 * shared read queue holds it for Deno's pull-based reads, read ahead up to
 * its high-water mark; past that the socket is paused and the rest waits in
 * the kernel. Bun's `write` takes what the kernel takes and keeps nothing
 * back; the rest is written on `drain`.
 *
 * @module
 */
import { NetError } from "../../core/messages.ts";
import { PullStream } from "../pull_stream.ts";
import type { NativeStream, SocketAddress } from "../types.ts";
import type { BunError, BunSocket, SocketHandlers } from "./_bun.ts";
import { codeError, isReset } from "../errno.ts";

/** A write the kernel has not taken all of yet. */
interface PendingWrite {
  buf: Uint8Array;
  done: number;
  resolve(n: number): void;
  reject(err: Error): void;
}

/** No writes or shutdowns pending: shared, never written to (`splice(0)` of it is a new empty list). */
const NONE: never[] = [];

/** Bun closed the socket (the peer, an error) or we did. */
const GONE = 1;
/** Closed here. */
const CLOSED = 2;
/** The write side is shut down. */
const SHUT = 4;
/** The socket is paused: the kernel keeps what comes. */
const PAUSED = 8;

/**
 * A Bun socket as a `NativeStream`: pull-based reads, Deno's ref rules. `A`
 * is its address type: TCP's, or a Unix socket's, given by its maker.
 */
export class BunStream<A = SocketAddress> extends PullStream
  implements NativeStream<A> {
  readonly localAddr: A;
  readonly remoteAddr: A;
  #socket: BunSocket;
  // The shared empty lists until a write waits on the kernel or a shutdown
  // on the writes: an idle connection holds no lists of its own.
  #writes: PendingWrite[] = NONE;
  #shutdowns: (() => void)[] = NONE;
  // `GONE | CLOSED | SHUT | PAUSED`: one field, not four, for every idle
  // connection holds one stream.
  #flags = 0;

  /**
   * Takes over `socket`, reading: what comes before the first read waits in
   * the queue, up to its high-water mark. Not paused here: a pause and the
   * resume at the first read are an `epoll_ctl` each, and the writable
   * event the pause asks for is a third and an extra turn of the loop, for
   * every connection. A
   * Unix socket's addresses come as `addrs` (Bun reports none for it); a
   * listener bound to one IP gives its own as `local`, shared by its
   * connections instead of an object and a string each.
   */
  constructor(socket: BunSocket, addrs?: { local?: A; remote?: A }) {
    super();
    this.#socket = socket;
    socket.data = this;
    // Held for pending ops only (`PullStream`), never for being open.
    socket.unref();
    this.localAddr = addrs?.local ??
      { hostname: socket.localAddress, port: socket.localPort } as A;
    this.remoteAddr = addrs?.remote ??
      { hostname: socket.remoteAddress, port: socket.remotePort } as A;
  }

  protected flow(more: boolean): void {
    // The queue asks at every read; Bun is asked only for a change.
    if (more === !(this.#flags & PAUSED)) return;
    this.#flags ^= PAUSED;
    if (more) this.#socket.resume();
    else this.#socket.pause();
  }

  protected holdProcess(on: boolean): void {
    if (on) this.#socket.ref();
    else this.#socket.unref();
  }

  /** Bun's own chunks, handed on whole: `data` gives each a buffer of its own. */
  readChunk(): Promise<Uint8Array<ArrayBuffer> | null> {
    return this.queue.readChunk();
  }

  write(buf: Uint8Array): Promise<number> {
    if (this.#flags & SHUT) return Promise.reject(NetError.brokenPipe());
    // Like the kernel: writing to a connection that is gone is EPIPE.
    if (this.#flags & GONE) return Promise.reject(NetError.brokenPipe());
    if (this.#writes.length === 0) {
      const n = this.#socket.write(buf);
      if (n === buf.byteLength) return Promise.resolve(n);
      if (n < 0) return Promise.reject(NetError.brokenPipe());
      return this.#pend(buf, n);
    }
    return this.#pend(buf, 0);
  }

  #pend(buf: Uint8Array, done: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const write = { buf, done, resolve, reject };
      if (this.#writes.length === 0) this.#writes = [write];
      else this.#writes.push(write);
      this.writeStarted();
    });
  }

  /** The kernel has room again: go on with the writes in order. */
  #drain(): void {
    while (this.#writes.length > 0) {
      const write = this.#writes[0];
      const n = this.#socket.write(write.buf.subarray(write.done));
      // Gone: its close callback fails the writes.
      if (n < 0) return;
      write.done += n;
      if (write.done < write.buf.byteLength) return;
      this.#writes.shift();
      this.writeDone();
      write.resolve(write.buf.byteLength);
    }
    this.#flushShutdowns();
  }

  shutdown(): Promise<void> {
    const failure = this.queue.failure();
    if (failure) return Promise.reject(failure);
    this.#flags |= SHUT;
    return new Promise((resolve) => {
      if (this.#shutdowns.length === 0) this.#shutdowns = [resolve];
      else this.#shutdowns.push(resolve);
      this.#flushShutdowns();
    });
  }

  /** Half-closes once every write before the shutdown reached the kernel. */
  #flushShutdowns(): void {
    if (this.#writes.length > 0 || this.#shutdowns.length === 0) return;
    if (!(this.#flags & GONE)) this.#socket.shutdown();
    for (const resolve of this.#shutdowns.splice(0)) resolve();
  }

  close(): void {
    if (this.#flags & CLOSED) return;
    this.#flags |= CLOSED;
    this.stopHolding();
    this.queue.close();
    this.#failWrites(true);
    this.#flags |= GONE;
    this.#socket.end();
  }

  setNoDelay(on: boolean): void {
    if (!(this.#flags & GONE)) this.#socket.setNoDelay(on);
  }

  setKeepAlive(on: boolean): void {
    if (!(this.#flags & GONE)) this.#socket.setKeepAlive(on);
  }

  /**
   * Fails the pending writes: with the read side's failure when closed
   * here, else with `BrokenPipe`. The error is made only when a write
   * waits: most connections close with none, and an error's stack trace
   * is the dearest part of a close.
   */
  #failWrites(closedHere: boolean): void {
    if (this.#writes.length > 0) {
      const err = closedHere ? this.queue.failure()! : NetError.brokenPipe();
      for (const write of this.#writes.splice(0)) write.reject(err);
    }
    for (const resolve of this.#shutdowns.splice(0)) resolve();
  }

  /** The socket failed: a reset ends the stream, as in Deno; anything else fails it. */
  protected socketFailed(err: BunError): void {
    if (isReset(err)) this.queue.end();
    else this.queue.fail(codeError(err));
  }

  /**
   * Hands the socket on (for TLS over it) with the bytes read ahead and not
   * yet taken, and lets go of it: its callbacks no longer reach this
   * stream. `undefined` where it cannot be handed on: reads or writes
   * wait, or the connection ended, failed, was shut down or closed.
   */
  detach(): { socket: BunSocket; pending: Uint8Array | undefined } | undefined {
    if (this.#flags & (GONE | CLOSED | SHUT) || this.#writes.length > 0) {
      return undefined;
    }
    const pending = this.queue.takeAll();
    if (pending === null) return undefined;
    this.#flags |= GONE | CLOSED;
    this.queue.close();
    this.stopHolding();
    const socket = this.#socket;
    socket.data = undefined;
    if (this.#flags & PAUSED) socket.resume();
    return { socket, pending };
  }

  #onClose(err?: BunError): void {
    if (this.#flags & GONE) return;
    this.#flags |= GONE;
    this.stopHolding();
    if (err) this.socketFailed(err);
    else this.queue.end();
    this.#failWrites(false);
  }

  /**
   * The callbacks every Bun socket of this package gets; each finds its
   * stream on `socket.data`.
   */
  static readonly handlers: SocketHandlers = {
    data(socket, chunk) {
      const stream = socket.data as BunStream | undefined;
      if (stream) stream.queue.push(chunk);
    },
    drain(socket) {
      const stream = socket.data as BunStream | undefined;
      if (stream) stream.#drain();
    },
    end(socket) {
      const stream = socket.data as BunStream | undefined;
      if (stream) stream.queue.end();
    },
    error(socket, err) {
      const stream = socket.data as BunStream | undefined;
      if (stream) stream.socketFailed(err);
    },
    close(socket, err) {
      const stream = socket.data as BunStream | undefined;
      if (stream) stream.#onClose(err);
    },
  };
}
