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

/** How long an ended Duplex may take to write what it holds once destroyed. */
const FLUSH_GRACE_MS = 5_000;

/**
 * `stream` as a Duplex, from its next unread byte. The Duplex owns the
 * stream: destroying it closes the stream.
 */
export function duplexOf(stream: NativeStream): Duplex {
  let reading = false;
  const duplex = new Duplex({
    allowHalfOpen: true,
    read() {
      if (reading) return;
      reading = true;
      const pump = (): void => {
        const buffer = new Uint8Array(READ_SIZE);
        stream.read(buffer).then((n) => {
          reading = false;
          if (n === 0) return void duplex.push(null);
          if (duplex.push(buffer.subarray(0, n))) {
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
  // Bun's `node:tls` destroys the Duplex (with no error) as soon as its TLS
  // socket is done, its last records still queued here: a Duplex whose
  // writing was ended is destroyed once that is written (bounded, as a
  // peer that reads nothing would hold it forever), not before.
  const destroy = duplex.destroy.bind(duplex);
  duplex.destroy = (err?: Error): Duplex => {
    if (err || !duplex.writableEnded || duplex.writableFinished) {
      return destroy(err);
    }
    const timer = setTimeout(() => destroy(), FLUSH_GRACE_MS);
    (timer as { unref?: () => void }).unref?.();
    duplex.once("finish", () => {
      clearTimeout(timer);
      destroy();
    });
    return duplex;
  };
  // The TLS layer reads all the time; the TLS stream above holds the
  // process for the reads its user makes, not this one.
  stream.setReadRef(false);
  return duplex;
}
