/**
 * The connection every stream transport shares, after Deno's `Conn` in
 * `ext/net/01_net.js`: byte counts, web streams, half-close, `ref`/`unref`,
 * all over the ops' `read`/`write`/`shutdown` of its rid.
 *
 * @module
 */
import { close, read, setRef, shutdown, tryClose, write } from "../ops/mod.ts";
import { readChunk, readOrNull } from "../ops/io.ts";
import { isOwn, type OwnKind } from "../ops/own.ts";
import type { NetAddr } from "./addr.ts";

/**
 * A connection, as `Deno.Conn`: `read`/`write` with byte counts, web streams,
 * `closeWrite` for half-close, and `ref`/`unref` for process lifetime.
 *
 * @example
 * ```ts
 * import { connect, listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * const client = await connect({ port: listener.addr.port });
 * const server = await listener.accept();
 * await client.write(new TextEncoder().encode("hello"));
 * const buf = new Uint8Array(5);
 * await server.read(buf);
 * client.close();
 * server.close();
 * listener.close();
 * ```
 */
export class Conn<A = NetAddr> implements Disposable {
  /**
   * `value instanceof Conn`: one of ours, or one of the runtime's own conns
   * that `connect` and `accept` hand out as they are where nothing is
   * emulated (native Deno's).
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    return instanceOf(this, Conn, "conn", value);
  }

  /** The rid of `conn`, for the functions that take a conn over (`startTls`). */
  static ridOf(conn: Conn<unknown>): number {
    return conn.#rid;
  }

  #rid: number;
  #remoteAddr: A;
  #localAddr: A;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /** Wraps the stream resource `rid`; made by `connect` and `Listener#accept`. */
  constructor(rid: number, remoteAddr: A, localAddr: A) {
    this.#rid = rid;
    this.#remoteAddr = remoteAddr;
    this.#localAddr = localAddr;
  }

  /** The peer's address. */
  get remoteAddr(): A {
    return this.#remoteAddr;
  }

  /** This end's address. */
  get localAddr(): A {
    return this.#localAddr;
  }

  /** Writes `p`; resolves the number of bytes written. */
  write(p: Uint8Array): Promise<number> {
    return write(this.#rid, p);
  }

  /** Reads into `p`; resolves the byte count, `null` at end of stream (or once the peer reset it). */
  read(p: Uint8Array): Promise<number | null> {
    // Not `async`: one promise and no suspended frame per read (the hot
    // path); what throws still arrives as a rejection, as in Deno.
    try {
      if (p.length === 0) return Promise.resolve(0);
    } catch (err) {
      return Promise.reject(err);
    }
    return readOrNull(this.#rid, p);
  }

  /** Closes the connection; a pending `read` rejects with `Interrupted`. */
  close(): void {
    close(this.#rid);
  }

  /** Shuts down the write side: the peer reads end of stream, reading goes on. Resolves `null`, as Deno does. */
  closeWrite(): Promise<void> {
    // Deno's op resolves `null` (its declared type says `void`).
    return shutdown(this.#rid).then(() => null as unknown as void);
  }

  /** The incoming bytes as a byte stream; it closes the connection at its end. */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#readable ??= readableStreamForRid(this.#rid);
    return this.#readable;
  }

  /** A sink for outgoing bytes; closing it closes the connection. */
  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= writableStreamForRid(
      this.#rid,
      (chunk) => this.write(chunk),
    );
    return this.#writable;
  }

  /** Pending reads keep the process alive (the default). */
  ref(): void {
    setRef(this.#rid, true);
  }

  /** Pending reads no longer keep the process alive. */
  unref(): void {
    setRef(this.#rid, false);
  }

  /** Closes the connection if it is open. */
  [Symbol.dispose](): void {
    tryClose(this.#rid);
  }
}

/**
 * `instanceof` for the class `cls` of `net/` (`ours`, the class asked,
 * whose own objects of the runtime are of `kind`): its instances, and where
 * `cls` is `ours` itself (not a subclass a program made), the runtime's own
 * objects of that kind.
 *
 * @ignore Internal: the classes of `net/` use it.
 */
export function instanceOf(
  cls: unknown,
  ours: unknown,
  kind: OwnKind,
  value: unknown,
): boolean {
  return Function.prototype[Symbol.hasInstance].call(cls, value) ||
    (cls === ours && isOwn(kind, value));
}

/**
 * A byte stream over the rid's reads; its end or error closes the rid, as
 * in Deno. A BYOB reader's view is read into; a default reader (`for
 * await`, `pipeTo`) gets the source's chunks as they came (`readChunk`),
 * not a 64 KiB buffer allocated and copied into per chunk.
 */
function readableStreamForRid(
  rid: number,
): ReadableStream<Uint8Array<ArrayBuffer>> {
  const stream = new ReadableStream({
    type: "bytes",
    // Not `async`: a bulk transfer pulls once per chunk, and an async
    // frame with its own promise per chunk is work the read's promise
    // already does.
    pull(controller) {
      const fail = (err: unknown) => {
        controller.error(err);
        tryClose(rid);
      };
      const request = controller.byobRequest;
      if (!request) {
        return readChunk(rid).then((chunk) => {
          try {
            if (chunk === null) endStream(rid, controller);
            else controller.enqueue(chunk);
          } catch (err) {
            fail(err);
          }
        }, fail);
      }
      return read(rid, request.view as Uint8Array).then((n) => {
        try {
          if (n === 0) {
            endStream(rid, controller);
            request.respond(0);
          } else {
            request.respond(n);
          }
        } catch (err) {
          fail(err);
        }
      }, fail);
    },
    cancel() {
      tryClose(rid);
    },
  });
  // Chunks own ArrayBuffers (`readChunk`, or the reader's view), as Deno's
  // types say; Node's typings only know `Uint8Array` here.
  return stream as ReadableStream<Uint8Array<ArrayBuffer>>;
}

/** The end of the rid's stream: the rid closes, as in Deno, and so does the stream. */
function endStream(
  rid: number,
  controller: ReadableByteStreamController,
): void {
  tryClose(rid);
  controller.close();
}

/** A sink over the conn's `write`; closing or aborting it closes the rid, as in Deno. */
function writableStreamForRid(
  rid: number,
  write: (chunk: Uint8Array) => Promise<number>,
): WritableStream<Uint8Array> {
  return new WritableStream({
    // Not `async`, as `pull` above: the write's own promise, once per chunk.
    write(chunk) {
      return write(chunk).then(undefined, (err) => {
        tryClose(rid);
        // Rejected, not just errored: the writer's `write()` rejects with
        // it, as on Deno.
        throw err;
      });
    },
    close() {
      tryClose(rid);
    },
    abort() {
      tryClose(rid);
    },
  });
}
