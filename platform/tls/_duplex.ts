/**
 * A `node:stream` Duplex over any `NativeStream`, for `node:tls` to run
 * over where the runtime's own socket cannot be handed to it (a Bun socket,
 * a stream with bytes read ahead and not yet taken).
 *
 * @module
 */
import { Duplex } from "node:stream";
import type { NativeStream } from "../types.ts";

/** Bytes asked for per read: a TLS record and its header. */
const READ_SIZE = 16 * 1024 + 256;

/**
 * `stream` as a Duplex, from its next unread byte. The Duplex owns the
 * stream: destroying it closes the stream.
 */
export function duplexOf(stream: NativeStream): Duplex {
  let reading = false;
  // One buffer for every read, and a copy of what each read filled: a new
  // 16 KiB buffer a read (most are a small record) cost more than the copy.
  const buffer = new Uint8Array(READ_SIZE);
  const duplex = new Duplex({
    allowHalfOpen: true,
    read() {
      if (reading) return;
      reading = true;
      const pump = (): void => {
        stream.read(buffer).then((n) => {
          reading = false;
          if (n === 0) return void duplex.push(null);
          if (duplex.push(buffer.slice(0, n))) {
            reading = true;
            pump();
          }
        }, (err) => duplex.destroy(err));
      };
      pump();
    },
    write(chunk: Uint8Array, _encoding, callback) {
      stream.write(chunk).then(() => callback(), callback);
    },
    final(callback) {
      stream.shutdown().then(() => callback(), callback);
    },
    destroy(err, callback) {
      stream.close();
      callback(err);
    },
  });
  // The TLS layer reads all the time; the TLS stream above holds the
  // process for the reads its user makes, not this one.
  stream.setReadRef(false);
  return duplex;
}
