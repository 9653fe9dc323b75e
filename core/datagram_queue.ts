/**
 * The one datagram-dispatch machine: datagrams pushed by a socket, and the
 * receivers that wait for them. Each datagram goes to exactly one receiver:
 * the one that has waited longest, whichever member of the socket it
 * belongs to (one `listenDatagram`, or several sharing a socket under the
 * emulated `reusePort`). With nobody waiting, datagrams wait here in a
 * bounded queue; beyond its bounds new ones are dropped and counted, as the
 * kernel drops what no longer fits a socket's receive buffer.
 *
 * @module
 */

/** The bounds of the queue of datagrams nobody waits for yet. */
export interface DatagramLimits {
  /** At most this many datagrams. */
  datagrams: number;
  /** At most this many bytes, all datagrams together. */
  bytes: number;
}

/**
 * The default bounds: about what Linux's default receive buffer
 * (`net.core.rmem_default`, 208 KiB) holds, counted in payload bytes, and
 * never more datagrams than a busy receiver would drain in a moment.
 */
export const DEFAULT_DATAGRAM_LIMITS: DatagramLimits = {
  datagrams: 1024,
  bytes: 256 * 1024,
};

/**
 * A receive that waits: the datagram it takes resolves `map(item)`. Plain
 * fields, not a closure over them: one object per receive, not two. Linked
 * in the order the receives were made: taking the first is two field
 * loads, where `Array.prototype.shift` cost some 500 instructions a
 * datagram.
 */
interface Waiter<T, M> {
  member: M;
  map: (item: T, a: unknown, b: unknown) => unknown;
  /** What `map` takes besides the item: no closure per receive. */
  a: unknown;
  b: unknown;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  next: Waiter<T, M> | undefined;
}

/** No-op resolving functions: a waiter's before its promise fills them in. */
function unset(): void {}

/** The waiter whose promise is being made (see `fill`). */
let filling: Waiter<unknown, unknown> | undefined;

/** One executor for every receive's promise, not a closure per receive. */
function fill<R>(
  resolve: (value: R) => void,
  reject: (err: Error) => void,
): void {
  filling!.resolve = resolve as (value: unknown) => void;
  filling!.reject = reject;
}

/** Datagrams in hand and receivers that wait, for one socket. */
export class DatagramQueue<T, M> {
  #items: { item: T; size: number }[] = [];
  #bytes = 0;
  /** The receive that waited longest, and the one made last. */
  #first: Waiter<T, M> | undefined;
  #last: Waiter<T, M> | undefined;
  #waiting = 0;
  #limits: DatagramLimits;
  #changed: () => void;
  #dropped = 0;
  #delivered = 0;

  /** `changed()` hears that the set of waiting receivers changed. */
  constructor(limits: DatagramLimits, changed: () => void) {
    this.#limits = limits;
    this.#changed = changed;
  }

  /** Datagrams dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Datagrams handed to a receiver. */
  get delivered(): number {
    return this.#delivered;
  }

  /** Datagrams waiting for a receiver. */
  get queued(): number {
    return this.#items.length;
  }

  /** Receivers waiting. */
  get waiting(): number {
    return this.#waiting;
  }

  /** The waiting receivers, longest waiting first. */
  *#waiters(): Generator<Waiter<T, M>> {
    for (let w = this.#first; w; w = w.next) yield w;
  }

  /** Whether a waiting receiver's member passes `test`. */
  someWaiting(test: (member: M) => boolean): boolean {
    for (const w of this.#waiters()) if (test(w.member)) return true;
    return false;
  }

  /** The members that have a receiver waiting, one entry per receiver. */
  waitingMembers(): M[] {
    return Array.from(this.#waiters(), (w) => w.member);
  }

  /**
   * A datagram arrived: to the receiver that waited longest, else into the
   * queue, else (the queue full) dropped. Returns whether it was kept.
   */
  push(item: T, size: number): boolean {
    const waiter = this.#first;
    if (waiter) {
      this.#first = waiter.next;
      if (!waiter.next) this.#last = undefined;
      this.#waiting--;
      this.#delivered++;
      waiter.resolve(waiter.map(item, waiter.a, waiter.b));
      this.#changed();
      return true;
    }
    if (
      this.#items.length >= this.#limits.datagrams ||
      this.#bytes + size > this.#limits.bytes
    ) {
      this.#dropped++;
      return false;
    }
    this.#items.push({ item, size });
    this.#bytes += size;
    return true;
  }

  /**
   * `member` receives: a queued datagram at once, else the next to arrive;
   * the promise resolves what `map` makes of it, called as it is taken (a
   * receive copies it into its buffer then, with no turn of its own).
   * `a` and `b` are passed on to `map`, so that it need not be a closure.
   */
  take<R, A = undefined, B = undefined>(
    member: M,
    map: (item: T, a: A, b: B) => R,
    a?: A,
    b?: B,
  ): Promise<R> {
    // No `shift()` call on an empty queue: the usual case, per datagram.
    const first = this.#items.length > 0 ? this.#items.shift() : undefined;
    if (first) {
      this.#bytes -= first.size;
      this.#delivered++;
      return Promise.resolve(map(first.item, a as A, b as B));
    }
    const waiter: Waiter<T, M> = {
      member,
      map: map as Waiter<T, M>["map"],
      a,
      b,
      resolve: unset,
      reject: unset,
      next: undefined,
    };
    filling = waiter as Waiter<unknown, unknown>;
    const promise = new Promise<R>(fill);
    filling = undefined;
    if (this.#last) this.#last.next = waiter;
    else this.#first = waiter;
    this.#last = waiter;
    this.#waiting++;
    this.#changed();
    return promise;
  }

  /**
   * Rejects the waiting receivers of `member` with `error()` (it closed),
   * or the `max` of them that wait longest (fewer receives wait there);
   * returns how many.
   */
  cancel(member: M, error: () => Error, max = Infinity): number {
    const kept: Waiter<T, M>[] = [];
    const gone: Waiter<T, M>[] = [];
    for (const w of this.#waiters()) {
      (w.member === member && gone.length < max ? gone : kept).push(w);
    }
    if (gone.length === 0) return 0;
    // Relinked from what stays, in order.
    this.#first = this.#last = undefined;
    for (const w of kept) {
      w.next = undefined;
      if (this.#last) this.#last.next = w;
      else this.#first = w;
      this.#last = w;
    }
    this.#waiting = kept.length;
    for (const w of gone) w.reject(error());
    this.#changed();
    return gone.length;
  }

  /** Empties the queue (the socket closed): what was in it, oldest first. */
  clear(): T[] {
    const items = this.#items.map((i) => i.item);
    this.#items = [];
    this.#bytes = 0;
    return items;
  }
}
