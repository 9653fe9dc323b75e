/**
 * Deno's rules for a TLS stream around its handshake, shared by the TLS
 * streams of `node:tls` and of Bun's own TLS: `handshake()` holds the
 * process while it waits, writes and `closeWrite()` wait for it, and after
 * `closeWrite()` nothing more is written.
 *
 * @module
 */
import { NetError } from "../../core/messages.ts";
import { hold, release } from "../loop_hold.ts";
import type { TlsHandshakeInfo } from "../types.ts";

/** One TLS stream's handshake, and whether its writing was shut. */
export class TlsHandshake {
  #handshaking = true;
  #shut = false;
  #done: Promise<TlsHandshakeInfo>;
  #resolve: (info: TlsHandshakeInfo) => void = () => {};
  #reject: (err: Error) => void = () => {};

  constructor() {
    this.#done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Seen through `handshake()` or a read, if anyone asks.
    this.#done.catch(() => {});
  }

  /** Whether the handshake has not finished (it may have failed). */
  get handshaking(): boolean {
    return this.#handshaking;
  }

  /** Whether a write goes straight out: the handshake is done, writing not shut. */
  get open(): boolean {
    return !this.#handshaking && !this.#shut;
  }

  /** Settles once the handshake is over, however it ended. */
  get done(): Promise<TlsHandshakeInfo> {
    return this.#done;
  }

  /** The handshake is done, agreeing on `info`. */
  succeeded(info: TlsHandshakeInfo): void {
    this.#handshaking = false;
    this.#resolve(info);
  }

  /**
   * The handshake failed with `err`. It stays unfinished: whatever ends the
   * stream now ends it unexpectedly.
   */
  failed(err: Error): void {
    this.#reject(err);
  }

  /**
   * What `handshake()` returns, given the stream's `failure` so far:
   * resolves once the handshake is done, rejects as it failed, and holds
   * the process while it waits, as Deno's op does.
   */
  wait(failure: Error | null): Promise<TlsHandshakeInfo> {
    if (failure && this.#handshaking) return Promise.reject(failure);
    if (!this.#handshaking) return this.#done;
    hold();
    return this.#done.finally(release);
  }

  /**
   * For a write of `buf` that is not `open`: resolves `true` once it may go
   * out, after the handshake (and rejects as that failed); `false` for
   * nothing to write after `closeWrite()`, and rejects for anything more,
   * as Deno's TLS stream is no longer connected for writing.
   */
  beforeWrite(buf: Uint8Array, failure: Error | null): Promise<boolean> {
    if (this.#shut) {
      return buf.byteLength === 0
        ? Promise.resolve(false)
        : Promise.reject(NetError.tlsWriteShut());
    }
    return this.wait(failure).then(() => true);
  }

  /**
   * `closeWrite()` begins: nothing more is written. The handshake to wait
   * for first (as Deno's: the handshake, then `close_notify`), `undefined`
   * if it is done.
   */
  shut(failure: Error | null): Promise<TlsHandshakeInfo> | undefined {
    this.#shut = true;
    return this.#handshaking ? this.wait(failure) : undefined;
  }
}
