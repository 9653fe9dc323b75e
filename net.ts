/**
 * `listen`, `connect` and the classes over the ops, after Deno's
 * `ext/net/01_net.js`.
 *
 * @module
 */
import {
  close,
  op_net_accept_tcp,
  op_net_connect_tcp,
  op_net_listen_tcp,
  op_set_keepalive,
  op_set_nodelay,
  read,
  setRef,
  shutdown,
  type SocketAddress,
  tryClose,
  write,
} from "./ops/mod.ts";
import { BadResource, Interrupted } from "./errors.ts";

/**
 * A TCP address, as `Deno.NetAddr`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listen, type NetAddr } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * const addr: NetAddr = listener.addr;
 * assert.equal(addr.transport, "tcp");
 * assert.equal(addr.hostname, "127.0.0.1");
 * listener.close();
 * ```
 */
export interface NetAddr {
  /** Always `"tcp"` here. */
  transport: "tcp";
  /** IP literal. */
  hostname: string;
  /** Port number. */
  port: number;
}

/**
 * Options of `listen`, as `Deno.TcpListenOptions`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listen, type TcpListenOptions } from "@reuseport/net";
 *
 * const options: TcpListenOptions = { hostname: "127.0.0.1", port: 0, reusePort: true };
 * const a = listen(options);
 * const b = listen({ ...options, port: a.addr.port }); // shares the port
 * assert.equal(b.addr.port, a.addr.port);
 * a.close();
 * b.close();
 * ```
 */
export interface TcpListenOptions {
  /** Port to listen on; 0 or absent lets the OS choose. Numeric strings are accepted. */
  port?: number;
  /** Address to bind; defaults to `0.0.0.0`. */
  hostname?: string;
  /** Only `"tcp"`. */
  transport?: "tcp";
  /** Let other listeners — in this process or others — share the address; connections are spread across them. */
  reusePort?: boolean;
  /** Share one socket between all listeners of this process on the address (Deno's `serve --parallel` mode). */
  loadBalanced?: boolean;
  /** Kernel backlog of connections not yet accepted; defaults to 511. */
  tcpBacklog?: number;
}

/**
 * Options of `connect`, as `Deno.ConnectOptions`.
 *
 * @example
 * ```ts
 * import { connect, type ConnectOptions, listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * const options: ConnectOptions = {
 *   hostname: "127.0.0.1",
 *   port: listener.addr.port,
 *   signal: AbortSignal.timeout(5_000),
 * };
 * const conn = await connect(options);
 * conn.close();
 * listener.close();
 * ```
 */
export interface ConnectOptions {
  /** Port to connect to, 1–65535. */
  port: number;
  /** Host to connect to; defaults to `127.0.0.1`. */
  hostname?: string;
  /** Only `"tcp"`. */
  transport?: "tcp";
  /** Aborts the connect attempt. */
  signal?: AbortSignal;
}

const CHUNK_SIZE = 64 * 1024;

/** A read's byte count as `Conn#read` reports it: `null` at end of stream. */
function nullAtEnd(n: number): number | null {
  return n === 0 ? null : n;
}

function netAddr(addr: SocketAddress): NetAddr {
  return { hostname: addr.hostname, port: addr.port, transport: "tcp" };
}

function unsupportedTransport(transport: unknown): TypeError {
  return new TypeError(`Unsupported transport: '${transport}'`);
}

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
export class Conn implements Disposable {
  #rid: number;
  #remoteAddr: NetAddr;
  #localAddr: NetAddr;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /** Wraps the stream resource `rid`; made by `connect` and `Listener#accept`. */
  constructor(rid: number, remoteAddr: NetAddr, localAddr: NetAddr) {
    this.#rid = rid;
    this.#remoteAddr = remoteAddr;
    this.#localAddr = localAddr;
  }

  /** The peer's address. */
  get remoteAddr(): NetAddr {
    return this.#remoteAddr;
  }

  /** This end's address. */
  get localAddr(): NetAddr {
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
    return read(this.#rid, p).then(nullAtEnd);
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
 * A TCP connection, as `Deno.TcpConn`.
 *
 * @example
 * ```ts
 * import { connect, listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * const conn = await connect({ port: listener.addr.port });
 * conn.setNoDelay();
 * conn.setKeepAlive();
 * conn.close();
 * listener.close();
 * ```
 */
export class TcpConn extends Conn {
  #rid: number;

  /** Wraps the stream resource `rid`; made by `connect` and `Listener#accept`. */
  constructor(rid: number, remoteAddr: NetAddr, localAddr: NetAddr) {
    super(rid, remoteAddr, localAddr);
    this.#rid = rid;
  }

  /** Turns Nagle's algorithm off (`TCP_NODELAY`), or back on with `false`. Returns `null`, as Deno does. */
  setNoDelay(noDelay = true): null {
    return op_set_nodelay(this.#rid, noDelay);
  }

  /** Turns TCP keep-alive probes on (`SO_KEEPALIVE`), or off with `false`. Returns `null`, as Deno does. */
  setKeepAlive(keepAlive = true): null {
    return op_set_keepalive(this.#rid, keepAlive);
  }
}

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
export class Listener implements AsyncIterableIterator<TcpConn>, Disposable {
  #rid: number;
  #addr: NetAddr;

  /** Wraps the listener resource `rid`; made by `listen`. */
  constructor(rid: number, addr: NetAddr) {
    this.#rid = rid;
    this.#addr = addr;
  }

  /** The bound address; `port` is the real one when 0 was asked for. */
  get addr(): NetAddr {
    return this.#addr;
  }

  /** The next connection. Rejects with `BadResource` once the listener is closed. */
  async accept(): Promise<TcpConn> {
    const [rid, localAddr, remoteAddr] = await op_net_accept_tcp(this.#rid);
    return new TcpConn(rid, netAddr(remoteAddr), netAddr(localAddr));
  }

  /** Iterator step: the next connection, or `done` once the listener is closed. */
  async next(): Promise<IteratorResult<TcpConn>> {
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
  return(value?: unknown): Promise<IteratorResult<TcpConn>> {
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

/**
 * `Deno.TcpListener`: a `Listener` of `TcpConn`s.
 *
 * @example
 * ```ts
 * import { listen, type TcpListener } from "@reuseport/net";
 *
 * const listener: TcpListener = listen({ hostname: "127.0.0.1", port: 0 });
 * listener.close();
 * ```
 */
export type TcpListener = Listener;

/**
 * Listens on a TCP address, synchronously: a taken address throws
 * `errors.AddrInUse` here, and `addr.port` is the real port when 0 was asked
 * for. With `reusePort: true`, other listeners may share the address and
 * connections are spread across them.
 *
 * @example
 * ```ts
 * import { listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * console.log(`listening on ${listener.addr.hostname}:${listener.addr.port}`);
 * listener.close();
 * ```
 */
export function listen(options: TcpListenOptions): Listener {
  if ((options.transport ?? "tcp") !== "tcp") {
    throw unsupportedTransport(options.transport);
  }
  const [rid, addr] = op_net_listen_tcp(
    {
      hostname: options.hostname ?? "0.0.0.0",
      port: options.port ?? 0,
    },
    options.reusePort ?? false,
    options.loadBalanced,
    options.tcpBacklog,
  );
  return new Listener(rid, netAddr(addr));
}

/**
 * Connects to a TCP address; `hostname` defaults to `127.0.0.1`.
 *
 * @example
 * ```ts
 * import { connect, listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * const conn = await connect({ port: listener.addr.port });
 * console.log(conn.remoteAddr.port === listener.addr.port);
 * conn.close();
 * listener.close();
 * ```
 */
export async function connect(options: ConnectOptions): Promise<TcpConn> {
  if ((options.transport ?? "tcp") !== "tcp") {
    throw unsupportedTransport(options.transport);
  }
  const [rid, localAddr, remoteAddr] = await op_net_connect_tcp(
    {
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port,
    },
    { signal: options.signal },
  );
  return new TcpConn(rid, netAddr(remoteAddr), netAddr(localAddr));
}

/** A byte stream over `read(rid)`; its end or error closes the rid, as in Deno. */
function readableStreamForRid(
  rid: number,
): ReadableStream<Uint8Array<ArrayBuffer>> {
  // Chunks come from `autoAllocateChunkSize`, so they are ArrayBuffer-backed,
  // as Deno's types say; Node's typings only know `Uint8Array` here.
  const stream = new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: CHUNK_SIZE,
    async pull(controller) {
      const request = controller.byobRequest!;
      const view = request.view as Uint8Array;
      try {
        const n = await read(rid, view);
        if (n === 0) {
          tryClose(rid);
          controller.close();
          request.respond(0);
        } else {
          request.respond(n);
        }
      } catch (err) {
        controller.error(err);
        tryClose(rid);
      }
    },
    cancel() {
      tryClose(rid);
    },
  });
  return stream as ReadableStream<Uint8Array<ArrayBuffer>>;
}

/** A sink over the conn's `write`; closing or aborting it closes the rid, as in Deno. */
function writableStreamForRid(
  rid: number,
  write: (chunk: Uint8Array) => Promise<number>,
): WritableStream<Uint8Array> {
  return new WritableStream({
    async write(chunk) {
      try {
        await write(chunk);
      } catch (err) {
        tryClose(rid);
        // Rejected, not just errored: the writer's `write()` rejects with
        // it, as on Deno.
        throw err;
      }
    },
    close() {
      tryClose(rid);
    },
    abort() {
      tryClose(rid);
    },
  });
}
