/**
 * A `node:stream` Duplex over any `NativeStream`, for `node:tls` to run
 * over where the runtime's own socket cannot be handed to it (a Bun socket,
 * a stream with bytes read ahead and not yet taken).
 *
 * @module
 */
import { builtin } from "../builtin.ts";
import type { Duplex } from "node:stream";
import type { NativeStream } from "../types.ts";

/** Bytes asked for per read: a TLS record and its header. */
const READ_SIZE = 16 * 1024 + 256;

/** How long an ended Duplex may take to write what it holds once destroyed. */
const FLUSH_GRACE_MS = 5_000;

/** How `dropWrites` reaches the Duplexes of `duplexOf`. */
const droppers = new WeakMap<Duplex, () => void>();

/**
 * Stops `duplex` (one of `duplexOf`) from writing what its TLS layer still
 * hands it, the answer to bytes that failed it included; a no-op on any
 * other Duplex.
 */
export function dropWrites(duplex: Duplex): void {
  droppers.get(duplex)?.();
}

/** Whether `duplex` is one of `duplexOf`: one that emits `PEER_END` and honours `dropWrites`. */
export function isStreamDuplex(duplex: Duplex): boolean {
  return droppers.has(duplex);
}

/**
 * The event a Duplex of `duplexOf` emits when the peer has ended its side
 * (its 'end' may come later, see `holdEnd`).
 */
export const PEER_END = "peerEnd";

/** How `duplexOf` hands the end of the peer's bytes on. */
export interface DuplexOptions {
  /**
   * Pushes the end of the peer's bytes only once the TLS layer has ended
   * its own writing (`PEER_END` tells it at once). Bun's `node:tls`, told
   * of the end, sends no `close_notify` after it: a peer's FIN without one
   * would leave the other side of the connection never reading its end.
   */
  holdEnd?: boolean;
}

/**
 * `stream` as a Duplex, from its next unread byte. The Duplex owns the
 * stream: destroying it closes the stream.
 */
export function duplexOf(
  stream: NativeStream,
  options: DuplexOptions = {},
): Duplex {
  let reading = false;
  // One buffer for every read, and a copy of what each read filled: a new
  // 16 KiB buffer a read (most are a small record) cost more than the copy.
  const buffer = new Uint8Array(READ_SIZE);
  // The peer's end, read and not yet pushed (`holdEnd`).
  let endHeld = false;
  // Whether the Duplex is handing what it read to the TLS layer, which
  // answers (handshake records, alerts) within that call.
  let pushing = false;
  // Set once the TLS layer failed on bytes that were not TLS: nothing
  // more it writes goes out.
  let dropping = false;
  const push = (chunk: Uint8Array | null): boolean => {
    pushing = true;
    try {
      return duplex.push(chunk);
    } finally {
      pushing = false;
    }
  };
  const duplex = new (builtin("node:stream").Duplex)({
    allowHalfOpen: true,
    read() {
      if (reading || endHeld) return;
      reading = true;
      const pump = (): void => {
        stream.read(buffer).then((n) => {
          reading = false;
          if (n === 0) {
            if (!options.holdEnd || duplex.writableEnded) {
              return void push(null);
            }
            endHeld = true;
            return void duplex.emit(PEER_END);
          }
          if (push(buffer.slice(0, n))) {
            reading = true;
            pump();
          }
        }, (err) => duplex.destroy(err));
      };
      pump();
    },
    write(chunk: Uint8Array, _encoding, callback) {
      const send = (): void => {
        // Failed meanwhile: the answer is not sent (the next write waits
        // for this one's callback, so order holds).
        if (dropping || duplex.destroyed) return callback();
        stream.write(chunk).then(() => callback(), callback);
      };
      // An answer to bytes just read waits a turn: Bun's `node:tls` writes
      // its alert for bytes that are not TLS before it fails the socket (a
      // tick later), and Node's and Deno's send none (see `dropWrites`).
      if (pushing) builtin("node:timers").setImmediate(send);
      else send();
    },
    final(callback) {
      if (endHeld) push(null);
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
  droppers.set(duplex, () => dropping = true);
  if (!options.holdEnd) duplex.once("end", () => duplex.emit(PEER_END));
  // The TLS layer reads all the time; the TLS stream above holds the
  // process for the reads its user makes, not this one.
  stream.setReadRef(false);
  return duplex;
}
