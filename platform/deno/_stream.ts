/**
 * Deno's own connections and listeners behind the `NativeStream` and
 * `NativeListener` interfaces, with its errors as this package's classes.
 *
 * @module
 */
import type { NativeListener, NativeStream, SocketAddress } from "../types.ts";
import {
  type DenoConn,
  type DenoListener,
  rethrow,
  translate,
} from "./_native.ts";

/** Deno's read count as `NativeStream#read` reports it: 0 at the end. */
function zeroAtEnd(n: number | null): number {
  return n ?? 0;
}

/** A connection of Deno's as a `NativeStream`. */
export class DenoStream<C extends DenoConn = DenoConn> implements NativeStream {
  readonly localAddr: SocketAddress;
  readonly remoteAddr: SocketAddress;
  #conn: C;

  constructor(conn: C) {
    this.#conn = conn;
    this.localAddr = {
      hostname: conn.localAddr.hostname,
      port: conn.localAddr.port,
    };
    this.remoteAddr = {
      hostname: conn.remoteAddr.hostname,
      port: conn.remoteAddr.port,
    };
  }

  /** Deno's own connection, for Deno's functions that take one (`startTls`). */
  get conn(): C {
    return this.#conn;
  }

  read(buf: Uint8Array): Promise<number> {
    return this.#conn.read(buf).then(zeroAtEnd, rethrow);
  }

  write(buf: Uint8Array): Promise<number> {
    // Deno's write may take part of the buffer; ours writes all of it. The
    // first write usually takes everything: no async frame or view for it.
    try {
      return this.#conn.write(buf).then(
        (n) => n < buf.byteLength ? this.#writeRest(buf, n) : n,
        rethrow,
      );
    } catch (err) {
      return Promise.reject(translate(err));
    }
  }

  async #writeRest(buf: Uint8Array, n: number): Promise<number> {
    try {
      while (n < buf.byteLength) n += await this.#conn.write(buf.subarray(n));
      return n;
    } catch (err) {
      rethrow(err);
    }
  }

  shutdown(): Promise<void> {
    return this.#conn.closeWrite().catch(rethrow);
  }

  close(): void {
    try {
      this.#conn.close();
    } catch (err) {
      rethrow(err);
    }
  }

  setNoDelay(on: boolean): void {
    this.#conn.setNoDelay(on);
  }

  setKeepAlive(on: boolean): void {
    this.#conn.setKeepAlive(on);
  }

  setReadRef(ref: boolean): void {
    if (ref) this.#conn.ref();
    else this.#conn.unref();
  }
}

/** A listener of Deno's as a `NativeListener`; `wrap` makes its connections streams. */
export class DenoListenerAdapter<C extends DenoConn = DenoConn>
  implements NativeListener {
  readonly addr: SocketAddress;
  #listener: DenoListener<C>;
  #wrap: (conn: C) => NativeStream;

  constructor(listener: DenoListener<C>, wrap: (conn: C) => NativeStream) {
    this.#listener = listener;
    this.#wrap = wrap;
    this.addr = { hostname: listener.addr.hostname, port: listener.addr.port };
  }

  accept(): Promise<NativeStream> {
    return this.#listener.accept().then(this.#wrap, rethrow);
  }

  setRef(ref: boolean): void {
    if (ref) this.#listener.ref();
    else this.#listener.unref();
  }

  close(): void {
    try {
      this.#listener.close();
    } catch {
      // Closing twice is the caller's no-op here; the resource table reports it.
    }
  }
}
