/**
 * What one of Bun's listening sockets accepted, held for a pull-based
 * accept: both kinds (`Bun.listen`'s and `node:net`'s) accept eagerly and
 * can be ref'd and stopped, and this is the part they share.
 *
 * @module
 */
import { Arrivals } from "../../core/arrivals.ts";

/** A listening socket as far as holding its connections goes. */
export interface HeldServer<T> {
  ref(): void;
  unref(): void;
  /** Closes the listening socket; the port is free when this returns. */
  stop(): void;
  /** Releases a connection that nobody will take. */
  dispose(item: T): void;
}

/** The connections a server accepted, until `next()` takes them in order. */
export class Held<T> {
  #server: HeldServer<T>;
  #arrivals = new Arrivals<T>();

  constructor(server: HeldServer<T>) {
    this.#server = server;
    // Deno holds the process only while an accept is pending.
    server.unref();
  }

  /** A connection the server accepted; released at once after a close. */
  add(item: T): void {
    if (this.#arrivals.closed) this.#server.dispose(item);
    else this.#arrivals.push(item);
  }

  next(): Promise<T> {
    return this.#arrivals.next();
  }

  setRef(ref: boolean): void {
    if (this.#arrivals.closed) return;
    if (ref) this.#server.ref();
    else this.#server.unref();
  }

  /** Stops the server; returns the connections still held (none the second time). */
  drain(): T[] {
    if (this.#arrivals.closed) return [];
    this.#server.stop();
    return this.#arrivals.close();
  }

  /** Stops the server and releases every connection still held. */
  close(): void {
    for (const item of this.drain()) this.#server.dispose(item);
  }
}
