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

/** Smaller chunks in hand are joined into one this big for a chunk read. */
const CHUNK_MIN = 64 * 1024;

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

/** What a read resolves: a byte count, a chunk (`readChunk`), or its end value. */
type ReadResult = number | Uint8Array<ArrayBuffer> | null;

/** A read waiting for data; `end` is what it resolves at end of stream. */
interface PendingRead {
  buf: Uint8Array;
  end: 0 | null;
  resolve(result: ReadResult): void;
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

/**
 * The buffer of a pending `readChunk()`: it takes what comes as a chunk of
 * its own rather than into a buffer. Never written to (it holds no bytes).
 */
const WHOLE = new Uint8Array(0);

/**
 * `chunk` where it is all of its `ArrayBuffer` (a reader may then take the
 * buffer over, as a byte stream's `enqueue` does), else a copy that is.
 */
function owned(chunk: Uint8Array): Uint8Array<ArrayBuffer> {
  return chunk.byteOffset === 0 &&
      chunk.byteLength === chunk.buffer.byteLength &&
      chunk.buffer instanceof ArrayBuffer
    ? chunk as Uint8Array<ArrayBuffer>
    : copy(chunk);
}

/**
 * A copy of `chunk` in a buffer of its own: `set` is a memcpy, where V8's
 * `new Uint8Array(typedArray)` copies element by element (measured on Node
 * 26: some 20 times slower), and a `Buffer`'s `slice` would share memory.
 */
function copy(chunk: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunk.byteLength);
  out.set(chunk);
  return out;
}

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
  #headResolve: ((result: ReadResult) => void) | undefined;
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
    return this.#read(buf, null) as Promise<number | null>;
  }

  /**
   * The next bytes as one chunk that owns its whole `ArrayBuffer` (the
   * source's own chunk where it does, so nothing is copied), `null` at the
   * end: what a byte stream's default reader gets, with no buffer of the
   * reader's to read into.
   */
  readChunk(): Promise<Uint8Array<ArrayBuffer> | null> {
    return this.#read(WHOLE, null) as Promise<Uint8Array<ArrayBuffer> | null>;
  }

  #read(buf: Uint8Array, end: 0 | null): Promise<ReadResult> {
    if (this.#buffered > 0) return Promise.resolve(this.#serve(buf));
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
      if (buf === WHOLE) {
        // A chunk read: all of it, copied only if the source reuses it.
        resolve(transient ? copy(chunk) : owned(chunk));
        return this.#owner.queueChanged();
      }
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

  /**
   * Everything in hand, taken as one chunk (`undefined` for nothing), for
   * a source handed to another reader; `null` when this queue cannot be
   * handed on: reads wait, or the stream ended, failed or was closed.
   */
  takeAll(): Uint8Array | undefined | null {
    if (this.#headBuf || this.#flags & (EOF | CLOSED) || this.#error) {
      return null;
    }
    if (this.#buffered === 0) return undefined;
    let all = this.#chunks[0];
    if (this.#chunks.length > 1) {
      all = new Uint8Array(this.#buffered);
      let at = 0;
      for (const chunk of this.#chunks) {
        all.set(chunk, at);
        at += chunk.byteLength;
      }
    }
    this.#chunks = NONE;
    this.#buffered = 0;
    return all;
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

  /** Serves a read from data in hand: a chunk read its chunk, any other a count. */
  #serve(buf: Uint8Array): ReadResult {
    return buf === WHOLE ? this.#takeChunk() : this.#take(buf);
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
    this.#tookSome();
    return n;
  }

  /**
   * Hands data in hand on as one chunk: the oldest chunk itself where it is
   * big enough or alone, else what is in hand (up to `CHUNK_MIN`) copied
   * into one, for a source that reads in small pieces; asks for more once
   * it ran low.
   */
  #takeChunk(): Uint8Array<ArrayBuffer> {
    const first = this.#chunks[0];
    if (first.byteLength >= CHUNK_MIN || this.#chunks.length === 1) {
      this.#chunks.shift();
      this.#buffered -= first.byteLength;
      this.#tookSome();
      return owned(first);
    }
    const chunk = new Uint8Array(Math.min(this.#buffered, CHUNK_MIN));
    this.#take(chunk);
    return chunk;
  }

  /** Data in hand went to a read: below the high-water mark the source reads on. */
  #tookSome(): void {
    if (this.#buffered < READ_HIGH_WATER && !(this.#flags & EOF)) {
      this.#owner.queueFlow(true);
    }
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
    resolve: (result: ReadResult) => void,
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
      if (this.#buffered > 0) this.#headResolve!(this.#serve(buf));
      else if (this.#error) this.#headReject!(this.#error);
      else if (this.#flags & EOF) {
        this.#headResolve!(this.#flags & HEAD_NULL ? null : 0);
      } else break;
      this.#next();
    }
    this.#owner.queueChanged();
  }
}
