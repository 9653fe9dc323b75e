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

/** Pending reads, data in hand, and the end or failure of one stream. */
export class ReadQueue {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #reads: {
    buf: Uint8Array;
    resolve(n: number): void;
    reject(e: Error): void;
  }[] = [];
  #eof = false;
  #error: Error | null = null;
  #closed = false;
  #flow: (more: boolean) => void;
  #changed: () => void;

  /**
   * `flow(true)` asks the source to read (on), `flow(false)` to hold off;
   * `changed()` hears that the number of pending reads changed.
   */
  constructor(flow: (more: boolean) => void, changed: () => void) {
    this.#flow = flow;
    this.#changed = changed;
  }

  /** How many reads wait for data. */
  get waiting(): number {
    return this.#reads.length;
  }

  /** Bytes in hand that no read took yet. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Reads into `buf`: data in hand at once, else the next data, 0 at the end. */
  read(buf: Uint8Array): Promise<number> {
    if (this.#buffered > 0) return Promise.resolve(this.#take(buf));
    const failure = this.failure();
    if (failure) return Promise.reject(failure);
    if (this.#eof) return Promise.resolve(0);
    return new Promise((resolve, reject) => {
      this.#reads.push({ buf, resolve, reject });
      this.#changed();
      this.#flow(true);
    });
  }

  /**
   * Data from the source. A `transient` chunk is valid only during this call
   * (it lives in a buffer the source reads into again): kept, it is copied.
   */
  push(chunk: Uint8Array, transient = false): void {
    // The common case, a read waiting and nothing in hand: straight into
    // its buffer, without queueing the chunk first.
    if (this.#buffered === 0 && this.#reads.length > 0) {
      const read = this.#reads.shift()!;
      const n = Math.min(chunk.byteLength, read.buf.byteLength);
      read.buf.set(n === chunk.byteLength ? chunk : chunk.subarray(0, n));
      read.resolve(n);
      this.#changed();
      if (n === chunk.byteLength) return;
      chunk = chunk.subarray(n);
    }
    this.#chunks.push(transient ? chunk.slice() : chunk);
    this.#buffered += chunk.byteLength;
    if (this.#reads.length > 0) this.#settle();
    // Nobody asking and enough in hand: the rest waits in the kernel, so
    // that the peer feels backpressure.
    else if (this.#buffered >= READ_HIGH_WATER) this.#flow(false);
  }

  /** The peer ended the stream. */
  end(): void {
    this.#eof = true;
    this.#settle();
  }

  /** The stream failed; the first error is the one reads see. */
  fail(err: Error): void {
    this.#error ??= err;
    this.#settle();
  }

  /** Closed here: pending and later reads reject with `Interrupted`. */
  close(): void {
    this.#closed = true;
    // The error (and its stack trace) is made only for a caller that sees it.
    if (this.#reads.length > 0) this.fail(this.failure()!);
    this.#chunks = [];
    this.#buffered = 0;
  }

  /** What ended the stream, if anything did; a close reads as `Interrupted`. */
  failure(): Error | null {
    if (!this.#error && this.#closed) {
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
    if (this.#buffered < READ_HIGH_WATER && !this.#eof) this.#flow(true);
    return n;
  }

  #settle(): void {
    while (this.#reads.length > 0) {
      const read = this.#reads[0];
      if (this.#buffered > 0) read.resolve(this.#take(read.buf));
      else if (this.#error) read.reject(this.#error);
      else if (this.#eof) read.resolve(0);
      else break;
      this.#reads.shift();
    }
    this.#changed();
  }
}
