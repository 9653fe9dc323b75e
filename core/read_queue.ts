/**
 * The read side of a stream whose source pushes data (libuv's TCP handle,
 * a callback socket): data in hand, pending reads served in order (Deno
 * queues concurrent reads), the end of the stream, and what failed.
 *
 * @module
 */
import { NetError } from "./messages.ts";

/** Read ahead at most this much for a reader that is not asking. */
const READ_HIGH_WATER = 64 * 1024;

/**
 * The stream a queue serves: `queueFlow(true)` asks its source to read (on),
 * `queueFlow(false)` to hold off; `queueChanged()` hears that the number of
 * pending reads changed. Methods of the stream itself, not closures: an idle
 * connection holds one queue, and two closures with their context each
 * would cost it about 150 bytes.
 */
export interface ReadQueueOwner {
  queueFlow(more: boolean): void;
  queueChanged(): void;
}

/** A read waiting for data; `end` is what it resolves at end of stream. */
interface PendingRead {
  buf: Uint8Array;
  end: 0 | null;
  resolve(n: number | null): void;
  reject(e: Error): void;
}

/** The peer ended the stream. */
const EOF = 1;
/** Closed here: reads reject with `Interrupted`. */
const CLOSED = 2;
/** The oldest pending read resolves `null` at the end, not 0. */
const HEAD_NULL = 4;

/** No chunks, no reads: shared by every queue until it holds some, never written to. */
const NONE: never[] = [];

/** Pending reads, data in hand, and the end or failure of one stream. */
export class ReadQueue {
  // The chunks start as the shared empty list and become a list of their
  // own on first use, sized to what it holds (a first `push` would grow a
  // list to V8's first capacity of 17 slots). The oldest pending read lives
  // in fields of the queue's own (its `end` in `HEAD_NULL`), not in an
  // object, for an idle connection waits in one read: only concurrent
  // reads need the list.
  #chunks: Uint8Array[] = NONE;
  #buffered = 0;
  #headBuf: Uint8Array | undefined;
  #headResolve: ((n: number | null) => void) | undefined;
  #headReject: ((e: Error) => void) | undefined;
  #rest: PendingRead[] = NONE;
  #error: Error | null = null;
  // `EOF | CLOSED | HEAD_NULL`: one field for the flags, as every idle
  // connection holds a queue (a field is 8 bytes on Node).
  #flags = 0;
  #owner: ReadQueueOwner;

  /** Serves the reads of `owner`. */
  constructor(owner: ReadQueueOwner) {
    this.#owner = owner;
  }

  /** How many reads wait for data. */
  get waiting(): number {
    return this.#headBuf ? 1 + this.#rest.length : 0;
  }

  /** Bytes in hand that no read took yet. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Reads into `buf`: data in hand at once, else the next data, 0 at the end. */
  read(buf: Uint8Array): Promise<number> {
    return this.#read(buf, 0) as Promise<number>;
  }

  /** `read`, resolving `null` at the end (what `Conn#read` answers). */
  readOrNull(buf: Uint8Array): Promise<number | null> {
    return this.#read(buf, null);
  }

  #read(buf: Uint8Array, end: 0 | null): Promise<number | null> {
    if (this.#buffered > 0) return Promise.resolve(this.#take(buf));
    const failure = this.failure();
    if (failure) return Promise.reject(failure);
    if (this.#flags & EOF) return Promise.resolve(end);
    return new Promise((resolve, reject) => {
      if (!this.#headBuf) this.#setHead(buf, end, resolve, reject);
      else if (this.#rest.length === 0) {
        this.#rest = [{ buf, end, resolve, reject }];
      } else this.#rest.push({ buf, end, resolve, reject });
      this.#owner.queueChanged();
      this.#owner.queueFlow(true);
    });
  }

  /**
   * Data from the source. A `transient` chunk is valid only during this call
   * (it lives in a buffer the source reads into again): kept, it is copied.
   */
  push(chunk: Uint8Array, transient = false): void {
    // The common case, a read waiting and nothing in hand: straight into
    // its buffer, without queueing the chunk first.
    const buf = this.#headBuf;
    if (this.#buffered === 0 && buf) {
      const resolve = this.#headResolve!;
      this.#next();
      const n = Math.min(chunk.byteLength, buf.byteLength);
      buf.set(n === chunk.byteLength ? chunk : chunk.subarray(0, n));
      resolve(n);
      this.#owner.queueChanged();
      if (n === chunk.byteLength) return;
      chunk = chunk.subarray(n);
    }
    const kept = transient ? chunk.slice() : chunk;
    if (this.#chunks.length === 0) this.#chunks = [kept];
    else this.#chunks.push(kept);
    this.#buffered += chunk.byteLength;
    if (this.#headBuf) this.#settle();
    // Nobody asking and enough in hand: the rest waits in the kernel, so
    // that the peer feels backpressure.
    else if (this.#buffered >= READ_HIGH_WATER) this.#owner.queueFlow(false);
  }

  /** The peer ended the stream. */
  end(): void {
    this.#flags |= EOF;
    this.#settle();
  }

  /** The stream failed; the first error is the one reads see. */
  fail(err: Error): void {
    this.#error ??= err;
    this.#settle();
  }

  /** Closed here: pending and later reads reject with `Interrupted`. */
  close(): void {
    this.#flags |= CLOSED;
    // The error (and its stack trace) is made only for a caller that sees it.
    if (this.#headBuf) this.fail(this.failure()!);
    this.#chunks = NONE;
    this.#buffered = 0;
  }

  /** What ended the stream, if anything did; a close reads as `Interrupted`. */
  failure(): Error | null {
    if (!this.#error && this.#flags & CLOSED) {
      this.#error = NetError.canceled();
    }
    return this.#error;
  }

  /** Copies data in hand into `buf`; asks for more once it ran low. */
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
    if (this.#buffered < READ_HIGH_WATER && !(this.#flags & EOF)) {
      this.#owner.queueFlow(true);
    }
    return n;
  }

  /** The oldest pending read is served: the next one moves up. */
  #next(): void {
    if (this.#rest.length > 0) {
      const read = this.#rest.shift()!;
      return this.#setHead(read.buf, read.end, read.resolve, read.reject);
    }
    this.#headBuf = this.#headResolve = this.#headReject = undefined;
  }

  /** A read of `buf` becomes the oldest pending read. */
  #setHead(
    buf: Uint8Array,
    end: 0 | null,
    resolve: (n: number | null) => void,
    reject: (e: Error) => void,
  ): void {
    this.#headBuf = buf;
    this.#headResolve = resolve;
    this.#headReject = reject;
    this.#flags = end === null
      ? this.#flags | HEAD_NULL
      : this.#flags & ~HEAD_NULL;
  }

  #settle(): void {
    for (let buf = this.#headBuf; buf; buf = this.#headBuf) {
      if (this.#buffered > 0) this.#headResolve!(this.#take(buf));
      else if (this.#error) this.#headReject!(this.#error);
      else if (this.#flags & EOF) {
        this.#headResolve!(this.#flags & HEAD_NULL ? null : 0);
      } else break;
      this.#next();
    }
    this.#owner.queueChanged();
  }
}
