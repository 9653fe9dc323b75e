/**
 * What the streams over a source that pushes data (libuv's TCP handle, a
 * Bun socket, a `net.Socket`) share: Deno's pull-based reads, served from a
 * read queue the source fills, and Deno's rule for keeping the process
 * alive.
 *
 * @module
 */
import { ReadQueue, type ReadQueueOwner } from "../core/read_queue.ts";

/** `setReadRef(false)`: pending reads do not hold the process. */
const READ_UNREF = 1;
/** The stream holds the process (`holdProcess(true)` was the last call). */
const HELD = 2;
/** The source is gone: nothing holds the process for this stream any more. */
const STOPPED = 4;

/**
 * The base of a `NativeStream` over a pushing source. Deno keeps the process
 * alive for pending ops only, not for open sockets: while a write (or a
 * shutdown) is pending, or a read waits and reads are ref'd. The rule lives
 * here; a subclass says how its source reads and holds the process.
 */
export abstract class PullStream implements ReadQueueOwner {
  /** What the source pushed, and the reads that wait for it. */
  protected readonly queue: ReadQueue;
  #writes = 0;
  // `READ_UNREF | HELD | STOPPED`: one field, not three, for every idle
  // connection holds one stream (a field is 8 bytes on Node).
  #flags = 0;

  /** The source must not hold the process as it comes: the subclass unrefs it. */
  constructor() {
    this.queue = new ReadQueue(this);
  }

  /** For the queue only: it wants the source to read on, or to hold off. */
  queueFlow(more: boolean): void {
    this.flow(more);
  }

  /** For the queue only: the number of pending reads changed. */
  queueChanged(): void {
    this.#update();
  }

  read(buf: Uint8Array): Promise<number> {
    return this.queue.read(buf);
  }

  readOrNull(buf: Uint8Array): Promise<number | null> {
    return this.queue.readOrNull(buf);
  }

  /** Whether a read, write or shutdown is pending. */
  get busy(): boolean {
    return this.#writes > 0 || this.queue.waiting > 0;
  }

  setReadRef(ref: boolean): void {
    this.#flags = ref ? this.#flags & ~READ_UNREF : this.#flags | READ_UNREF;
    this.#update();
  }

  /** Asks the source to read on (`more`) or to hold off. */
  protected abstract flow(more: boolean): void;

  /** Holds the process alive (`on`) or lets it go. */
  protected abstract holdProcess(on: boolean): void;

  /** A write or shutdown began: it holds the process until `writeDone()`. */
  protected writeStarted(): void {
    this.#writes++;
    this.#update();
  }

  /** A write or shutdown that `writeStarted()` counted has settled. */
  protected writeDone(): void {
    this.#writes--;
    this.#update();
  }

  /**
   * The source is gone: from now on nothing holds the process for this
   * stream, and a hold still taken is let go.
   */
  protected stopHolding(): void {
    if (this.#flags & STOPPED) return;
    const held = this.#flags & HELD;
    this.#flags = (this.#flags | STOPPED) & ~HELD;
    if (held) this.holdProcess(false);
  }

  #update(): void {
    const flags = this.#flags;
    const want = this.#writes > 0 ||
      ((flags & READ_UNREF) === 0 && this.queue.waiting > 0);
    if (want === ((flags & HELD) !== 0) || flags & STOPPED) return;
    this.#flags = want ? flags | HELD : flags & ~HELD;
    this.holdProcess(want);
  }
}
