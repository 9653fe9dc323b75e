/**
 * The listener every stream transport shares, after Deno's `Listener` in
 * `ext/net/01_net.js`: `accept()` one connection at a time or iterate with
 * `for await`, `close()`, `ref`/`unref`.
 *
 * @module
 */
import { close, setRef, tryClose } from "../ops/mod.ts";
import { BadResource, Interrupted } from "../errors.ts";
import type { NetAddr } from "./addr.ts";
import { type Conn, instanceOf } from "./conn.ts";

/**
 * A listening socket, as `Deno.Listener`: `accept()` one connection at a
 * time, or iterate with `for await`.
 *
 * @example
 * ```ts
 * import { connect, listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * const client = await connect({ port: listener.addr.port });
 * for await (const conn of listener) {
 *   conn.close();
 *   break; // leaving the loop closes the listener
 * }
 * client.close();
 * ```
 */
export class Listener<C = Conn, A = NetAddr>
  implements AsyncIterableIterator<C>, Disposable {
  /**
   * `value instanceof Listener`: one of ours, or the runtime's own listener
   * that `listen` hands out as it is where nothing is emulated (native
   * Deno's).
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    return instanceOf(this, Listener, "listener", value);
  }

  #rid: number;
  #addr: A;
  #accept: (rid: number) => Promise<C>;

  /**
   * Wraps the listener resource `rid`; `accept` is its transport's accept
   * op, with the conn made. Made by `listen`.
   */
  constructor(rid: number, addr: A, accept: (rid: number) => Promise<C>) {
    this.#rid = rid;
    this.#addr = addr;
    this.#accept = accept;
  }

  /** The bound address; `port` is the real one when 0 was asked for. */
  get addr(): A {
    return this.#addr;
  }

  /** The next connection. Rejects with `BadResource` once the listener is closed. */
  accept(): Promise<C> {
    return this.#accept(this.#rid);
  }

  /** Iterator step: the next connection, or `done` once the listener is closed. */
  async next(): Promise<IteratorResult<C>> {
    try {
      return { value: await this.accept(), done: false };
    } catch (err) {
      if (err instanceof BadResource || err instanceof Interrupted) {
        return { value: undefined, done: true };
      }
      throw err;
    }
  }

  /** Ends iteration (`break` in `for await`): closes the listener. */
  return(value?: unknown): Promise<IteratorResult<C>> {
    this.close();
    return Promise.resolve({ value, done: true });
  }

  /** Closes the listener; a pending `accept()` rejects. Closing twice throws `BadResource`. */
  close(): void {
    close(this.#rid);
  }

  /** Closes the listener if it is open. */
  [Symbol.dispose](): void {
    tryClose(this.#rid);
  }

  /** The listener is its own async iterator. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /** A pending `accept()` keeps the process alive (the default). */
  ref(): void {
    setRef(this.#rid, true);
  }

  /** A pending `accept()` no longer keeps the process alive. */
  unref(): void {
    setRef(this.#rid, false);
  }
}
