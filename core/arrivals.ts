/**
 * Connections that a runtime accepted on its own, held until someone asks:
 * the step from push to pull under a listener's `accept()`, for runtimes
 * that cannot pause accepting (libuv, Bun). One `next()` at a time; what
 * nobody asked for waits here, in order, with any accept error in its place.
 *
 * @module
 */
import { NetError } from "./messages.ts";

/** Arrived connections (or accept errors), taken one `next()` at a time. */
export class Arrivals<T> {
  #queue: (T | Error)[] = [];
  #waiter: {
    resolve(item: T): void;
    reject(err: Error): void;
  } | null = null;
  #closed = false;

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** A connection, or an accept error, arrived: the waiting `next()` gets it, else it waits. */
  push(item: T | Error): void {
    const waiter = this.#waiter;
    if (!waiter) return void this.#queue.push(item);
    this.#waiter = null;
    if (item instanceof Error) waiter.reject(item);
    else waiter.resolve(item);
  }

  /** The next arrival (or accept error); `BadResource` once closed. */
  next(): Promise<T> {
    if (this.#closed) return Promise.reject(NetError.listenerClosed());
    const item = this.#queue.shift();
    if (item instanceof Error) return Promise.reject(item);
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /**
   * Takes no more: a pending `next()` rejects with `BadResource`. Returns
   * the connections still held (none after the first call), for the caller
   * to close or hand on.
   */
  close(): T[] {
    if (this.#closed) return [];
    this.#closed = true;
    this.#waiter?.reject(NetError.listenerClosed());
    this.#waiter = null;
    return this.#queue.splice(0).filter((item): item is T =>
      !(item instanceof Error)
    );
  }
}
