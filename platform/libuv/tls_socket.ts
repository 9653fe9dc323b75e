/**
 * What `node:tls` runs over for a connection on libuv's TCP handle: a
 * `net.Socket` on the handle itself, so that Node's TLS works in C++ on
 * the handle's reads (as `tls.createServer` does); a Duplex over the stream
 * where the handle cannot be given up.
 *
 * @module
 */
import { builtin } from "../builtin.ts";
import type * as net from "node:net";
import type { Duplex } from "node:stream";
import { duplexOf } from "../tls/_duplex.ts";
import type { NativeStream } from "../types.ts";
import { HandleStream } from "./stream.ts";

/** `stream` as a socket for `node:tls` to take over. */
export function tlsSocketOf(stream: NativeStream): Duplex {
  const handle = stream instanceof HandleStream ? stream.release() : undefined;
  if (!handle) return duplexOf(stream);
  // The loop is held for pending operations only (`TlsSocketStream`).
  const options = { handle, allowHalfOpen: true } as net.SocketConstructorOpts;
  return new (builtin("node:net").Socket)(options).unref();
}
