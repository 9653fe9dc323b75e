/**
 * Deno's own connections and listeners behind the `NativeStream` and
 * `NativeListener` interfaces, with its errors as this package's classes.
 *
 * @module
 */
import type { NativeListener, NativeStream, SocketAddress } from "../types.ts";
import type { UnixAddress } from "../types.ts";
import {
  type DenoAddr,
  type DenoConn,
  type DenoListener,
  rethrow,
  translate,
} from "./_native.ts";

let ridSymbol: symbol | undefined;

/**
 * Deno's `core.internalRidSymbol`, as its conns carry it (a symbol of
 * Deno's own, not registered: found on the first conn that has it).
 */
export function internalRidSymbol(conn: object): symbol | undefined {
  ridSymbol ??= Object.getOwnPropertySymbols(conn).find((s) =>
    s.description === "Deno.internal.rid"
  );
  return ridSymbol;
}

/** TCP's address out of Deno's. */
export function tcpAddr(addr: DenoAddr): SocketAddress {
  return { hostname: addr.hostname, port: addr.port };
}

/** A Unix socket's address out of Deno's. */
export function unixAddr(addr: DenoAddr): UnixAddress {
  return { path: addr.path };
}

/** Deno's read count as `NativeStream#read` reports it: 0 at the end. */
function zeroAtEnd(n: number | null): number {
  return n ?? 0;
}

/** A connection of Deno's as a `NativeStream`. */
export class DenoStream<A = SocketAddress, C extends DenoConn = DenoConn>
  implements NativeStream<A> {
  #conn: C;
  #address: (addr: DenoAddr) => A;

  /** `address` turns Deno's addresses into the transport's. */
  constructor(conn: C, address: (addr: DenoAddr) => A) {
    this.#conn = conn;
    this.#address = address;
  }

  // Made when asked (the accept op asks once and keeps its own): Deno's
  // conn keeps its addresses, and two more objects a held connection need
  // not.
  /** This end's address, out of Deno's. */
  get localAddr(): A {
    return this.#address(this.#conn.localAddr);
  }

  /** The peer's address, out of Deno's. */
  get remoteAddr(): A {
    return this.#address(this.#conn.remoteAddr);
  }

  /** Deno's own connection, for Deno's functions that take one (`startTls`). */
  get conn(): C {
    return this.#conn;
  }

  get internalRid(): { symbol: symbol; rid: number } | undefined {
    const symbol = internalRidSymbol(this.#conn);
    if (!symbol) return undefined;
    return {
      symbol,
      rid: (this.#conn as unknown as Record<symbol, number>)[symbol],
    };
  }

  read(buf: Uint8Array): Promise<number> {
    return this.#conn.read(buf).then(zeroAtEnd, rethrow);
  }

  readOrNull(buf: Uint8Array): Promise<number | null> {
    return this.#conn.read(buf).catch(rethrow);
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
export class DenoListenerAdapter<
  A = SocketAddress,
  C extends DenoConn = DenoConn,
> implements NativeListener<A> {
  readonly addr: A;
  #listener: DenoListener<C>;
  #wrap: (conn: C) => NativeStream<A>;

  /** `address` turns Deno's address into the transport's; `wrap` makes a stream of a conn. */
  constructor(
    listener: DenoListener<C>,
    address: (addr: DenoAddr) => A,
    wrap: (conn: C) => NativeStream<A>,
  ) {
    this.#listener = listener;
    this.#wrap = wrap;
    this.addr = address(listener.addr);
  }

  accept(): Promise<NativeStream<A>> {
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
