/**
 * Streams in the resource table, and the core-style `read` / `write` /
 * `shutdown` over them (Deno's `core.read`, `core.write`, `core.shutdown`).
 *
 * @module
 */
import { builtin } from "../platform/builtin.ts";
import { NetError } from "../core/messages.ts";
import type { NativeStream, SocketAddress } from "../platform/types.ts";
import { type Resource, resourceTable } from "./resources.ts";

/**
 * A connected stream in the resource table, of any stream transport: what
 * `read`, `write` and `shutdown` take. Each transport names its own.
 */
export abstract class StreamResource<A = unknown> implements Resource {
  abstract readonly name: string;
  readonly stream: NativeStream<A>;

  constructor(stream: NativeStream<A>) {
    this.stream = stream;
  }

  close(): void {
    this.stream.close();
  }

  setRef(ref: boolean): void {
    this.stream.setReadRef(ref);
  }
}

/** A connected TCP stream in the resource table. */
export class TcpStreamResource extends StreamResource<SocketAddress> {
  readonly name = "tcpStream";
}

/**
 * Deno's internal rid of the stream at `rid`, where it is one of Deno's own
 * conns (see `NativeStream.internalRid`).
 *
 * @ignore Internal: the conns of `net/` carry it for Deno's `startTls`.
 */
export function internalRid(
  rid: number,
): { symbol: symbol; rid: number } | undefined {
  const resource = resourceTable.find(rid);
  return resource instanceof StreamResource
    ? resource.stream.internalRid
    : undefined;
}

/** The stream at `rid`; throws `BadResource` if there is none. */
function streamOf(rid: number): NativeStream<unknown> {
  const resource = resourceTable.find(rid);
  if (resource instanceof StreamResource) return resource.stream;
  throw NetError.badResourceId();
}

/**
 * The stream at `rid` for an op that takes a buffer. Deno's take a
 * `Uint8Array` (or a subclass, such as Node's `Buffer`) and reject anything
 * else with a `TypeError`, before they look at the rid. The ops call this
 * inside `try` and reject with what it throws, as Deno's do: no closure per
 * call on the hot path.
 */
function streamWithBuffer(rid: number, buf: unknown): NativeStream<unknown> {
  if (!builtin("node:util").types.isUint8Array(buf)) {
    throw NetError.notABuffer();
  }
  return streamOf(rid);
}

/**
 * Reads into `buf`; resolves the byte count, 0 at end of stream.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_accept_tcp, op_net_connect_tcp, op_net_listen_tcp, read, write } from "@reuseport/net/ops";
 *
 * const [lrid, addr] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * const accepted = op_net_accept_tcp(lrid);
 * const [crid] = await op_net_connect_tcp(addr);
 * const [srid] = await accepted;
 * await write(crid, new TextEncoder().encode("hi"));
 * const buf = new Uint8Array(16);
 * assert((await read(srid, buf)) === 2);
 * close(crid);
 * close(srid);
 * close(lrid);
 * ```
 */
export function read(rid: number, buf: Uint8Array): Promise<number> {
  try {
    return streamWithBuffer(rid, buf).read(buf);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** A read's byte count as `Conn#read` reports it: `null` at end of stream. */
function nullAtEnd(n: number): number | null {
  return n === 0 ? null : n;
}

/**
 * `read`, resolving `null` at end of stream, as `Conn#read` answers; one
 * promise where the stream can (`NativeStream#readOrNull`), so that an idle
 * connection's pending read holds no second one.
 *
 * @ignore Internal: the conns of `net/` read through it.
 */
export function readOrNull(
  rid: number,
  buf: Uint8Array,
): Promise<number | null> {
  try {
    const stream = streamWithBuffer(rid, buf);
    return stream.readOrNull
      ? stream.readOrNull(buf)
      : stream.read(buf).then(nullAtEnd);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** What a chunk read of a stream without `readChunk` reads into. */
const CHUNK_SIZE = 64 * 1024;

/**
 * The next bytes of the stream at `rid` as a chunk that owns its whole
 * `ArrayBuffer` (a byte stream's `enqueue` may take it over), `null` at end
 * of stream: the stream's own chunk where it has `readChunk`, else read
 * into a new buffer of 64 KiB, as Deno's streams read.
 *
 * @ignore Internal: the conns' `readable` reads through it.
 */
export function readChunk(
  rid: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  try {
    const stream = streamOf(rid);
    if (stream.readChunk) return stream.readChunk();
    const buf = new Uint8Array(CHUNK_SIZE);
    return stream.read(buf).then((n) => n === 0 ? null : buf.subarray(0, n));
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Writes all of `buf`; resolves the byte count once the OS has taken it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_accept_tcp, op_net_connect_tcp, op_net_listen_tcp, write } from "@reuseport/net/ops";
 *
 * const [lrid, addr] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * const accepted = op_net_accept_tcp(lrid);
 * const [crid] = await op_net_connect_tcp(addr);
 * const [srid] = await accepted;
 * assert((await write(crid, new Uint8Array(3))) === 3);
 * close(crid);
 * close(srid);
 * close(lrid);
 * ```
 */
export function write(rid: number, buf: Uint8Array): Promise<number> {
  try {
    return streamWithBuffer(rid, buf).write(buf);
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Shuts down the write side of the stream at `rid`: the peer reads end of
 * stream, reading here goes on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_accept_tcp, op_net_connect_tcp, op_net_listen_tcp, read, shutdown } from "@reuseport/net/ops";
 *
 * const [lrid, addr] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * const accepted = op_net_accept_tcp(lrid);
 * const [crid] = await op_net_connect_tcp(addr);
 * const [srid] = await accepted;
 * await shutdown(crid);
 * assert((await read(srid, new Uint8Array(8))) === 0);
 * close(crid);
 * close(srid);
 * close(lrid);
 * ```
 */
export function shutdown(rid: number): Promise<void> {
  try {
    return streamOf(rid).shutdown();
  } catch (err) {
    return Promise.reject(err);
  }
}
