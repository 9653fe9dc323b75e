/**
 * TLS through `node:tls`, over whatever socket the runtime hands it: Node's
 * and Bun's TLS, and Deno's for connections that its own TLS cannot take
 * (those bound with `SO_REUSEPORT` through its Node layer). A server-side
 * `TLSSocket` over an accepted connection, `tls.connect({ socket })` for
 * `startTls`: the handshake runs in the thread that took the connection.
 *
 * @module
 */
import { builtin } from "../builtin.ts";
import type * as tls from "node:tls";
import type { Duplex } from "node:stream";
import { NetError } from "../../core/messages.ts";
import { hold, release } from "../loop_hold.ts";
import { NetStream } from "../socket_stream.ts";
import type {
  NativeStream,
  Tls,
  TlsClientSettings,
  TlsHandshakeInfo,
  TlsServerContext,
  TlsServerSettings,
  TlsStream,
} from "../types.ts";
import { dropWrites, isStreamDuplex, PEER_END } from "./_duplex.ts";
import { isCorruptRecord, tlsError } from "./_errors.ts";
import { TlsHandshake } from "./_handshake.ts";

/** How long a closed TLS stream may take to finish its handshake and say `close_notify`. */
const CLOSE_GRACE_MS = 5_000;

/**
 * Throws Deno's error for a key that is not the certificate's: OpenSSL takes
 * such a pair and fails only at the first handshake.
 */
function checkPair(cert: string, key: string): void {
  let matches = true;
  try {
    matches = new (builtin("node:crypto").X509Certificate)(cert)
      .checkPrivateKey(
        builtin("node:crypto").createPrivateKey(key),
      );
  } catch {
    // Unreadable here: `createSecureContext` says what is wrong with it.
  }
  if (!matches) throw NetError.keyMismatch();
}

/** A server's compiled settings. */
interface ServerContext {
  secureContext: tls.SecureContext;
  alpnProtocols?: string[];
}

/** A `TLSSocket` as a `TlsStream`: reads and writes wait for the handshake. */
export class TlsSocketStream extends NetStream implements TlsStream {
  #socket: tls.TLSSocket;
  #tls = new TlsHandshake();
  #held = false;
  #fail: (err: Error) => void;

  /**
   * Takes over `socket`, which runs over `raw`, a socket or Duplex on
   * `under`'s connection.
   */
  constructor(
    socket: tls.TLSSocket,
    under: NativeStream,
    server: boolean,
    raw: Duplex,
  ) {
    super(socket, under);
    // Only a Duplex over a stream needs these; a socket on the handle
    // itself (Node) is spared their listeners, a connection's worth of work.
    if (isStreamDuplex(raw)) {
      // Bun's `node:tls` does not end a TLS socket whose Duplex ended: the
      // connection's end is the stream's (as Node's TLS layer makes it).
      raw.once(PEER_END, () =>
        builtin("node:timers").setImmediate(() => {
          if (!socket.readableEnded) this.ended();
        }));
      // Bytes that are not TLS get no alert from Node's or Deno's TLS: the
      // peer sees the connection end. Bun's writes one (protocol_version).
      socket.once("error", (err) => {
        if (isCorruptRecord(err)) dropWrites(raw);
      });
    }
    this.#socket = socket;
    const handshake = this.#tls;
    this.toError = (err) =>
      tlsError(err, handshake.handshaking, () => socket.getPeerCertificate());
    socket.once(server ? "secure" : "secureConnect", () => {
      handshake.succeeded({ alpnProtocol: socket.alpnProtocol || null });
    });
    socket.once("close", () => {
      if (handshake.handshaking) {
        handshake.failed(this.queue.failure() ?? NetError.tlsEof());
      }
    });
    this.#fail = (err) => {
      this.queue.fail(err);
      handshake.failed(err);
      socket.destroy();
    };
    // `node:tls` moves the handshake on only while the socket reads: read
    // from the start (into the read queue, which holds off past its high
    // water mark), so a `handshake()` or a `write()` alone completes it.
    this.flow(true);
  }

  /** Resolves once the handshake is done; rejects as it failed. */
  handshake(): Promise<TlsHandshakeInfo> {
    return this.#tls.wait(this.queue.failure());
  }

  override write(buf: Uint8Array): Promise<number> {
    if (this.#tls.open) return super.write(buf);
    // Written once the handshake is done, and refused with its failure (a
    // write queued in `node:tls` may be reported written all the same).
    return this.#tls.beforeWrite(buf, this.queue.failure())
      .then((go) => go ? super.write(buf) : 0);
  }

  override shutdown(): Promise<void> {
    // The handshake first (`node:tls` would end the stream under one).
    const handshake = this.#tls.shut(this.queue.failure());
    return handshake
      ? handshake.then(() => super.shutdown())
      : super.shutdown();
  }

  /**
   * Closes as Deno's TLS stream does when dropped: the handshake finishes
   * (if it is under way) and `close_notify` goes out, so the peer reads the
   * end of the stream, not a truncation; reads and writes here end now.
   */
  override close(): void {
    this.queue.close();
    this.stopHolding();
    const socket = this.#socket;
    const destroy = () => socket.destroy();
    // Bounded: a peer that never answers does not keep the socket.
    const timer = setTimeout(destroy, CLOSE_GRACE_MS);
    (timer as { unref?: () => void }).unref?.();
    socket.once("close", () => clearTimeout(timer));
    // Read on to the peer's end: bytes left unread in the kernel would
    // make the close a reset, and the peer would lose what it had not read.
    socket.on("data", () => {});
    socket.resume();
    const whenDone = () => {
      if (socket.readableEnded && socket.writableFinished) destroy();
    };
    socket.on("end", whenDone).on("finish", whenDone);
    const end = () => {
      socket.end();
      whenDone();
    };
    if (!this.#tls.handshaking) end();
    else this.#tls.done.then(end, destroy);
  }

  protected override ended(): void {
    if (!this.#tls.handshaking) return super.ended();
    // `node:tls` can report the end of a stream before the handshake that
    // the same bytes completed ('secure' comes a turn later).
    builtin("node:timers").setImmediate(() => {
      if (!this.#tls.handshaking) return super.ended();
      // An end before the handshake finished is an unexpected one, and the
      // last thing to come: the half-open socket goes.
      this.#fail(NetError.tlsEof());
    });
  }

  protected override readsAsEnd(err: unknown): boolean {
    return !this.#tls.handshaking && super.readsAsEnd(err);
  }

  protected override holdProcess(on: boolean): void {
    // The TLS layer's own reads never hold the process; the user's do.
    if (on === this.#held) return;
    this.#held = on;
    if (on) hold();
    else release();
  }
}

/** How a runtime hands `node:tls` a connection: its socket, or a Duplex over it. */
export type SocketOf = (stream: NativeStream) => Duplex;

/** The verification Deno does, with `unsafelyDisableHostnameVerification` honoured. */
function clientOptions(settings: TlsClientSettings): tls.ConnectionOptions {
  const { hostname, caCerts, alpnProtocols, cert, key } = settings;
  return {
    // SNI carries names only, never an IP literal.
    servername: /^[\d.]+$|:/.test(hostname) ? undefined : hostname,
    host: hostname,
    ca: caCerts.length > 0 ? caCerts : undefined,
    ALPNProtocols: alpnProtocols,
    cert,
    key,
    rejectUnauthorized: true,
    checkServerIdentity: settings.unsafelyDisableHostnameVerification
      ? () => undefined
      : builtin("node:tls").checkServerIdentity,
  };
}

/** TLS through `node:tls` over the sockets `socketOf` gives. */
export function nodeTls(
  socketOf: SocketOf,
  connect: (
    hostname: string,
    port: number,
    signal?: AbortSignal,
  ) => Promise<NativeStream>,
): Tls {
  const open = (
    stream: NativeStream,
    settings: TlsClientSettings,
  ): TlsStream => {
    const raw = socketOf(stream);
    const socket = builtin("node:tls").connect({
      ...clientOptions(settings),
      socket: raw,
    });
    return new TlsSocketStream(socket, stream, false, raw);
  };
  return {
    serverContext(settings: TlsServerSettings): TlsServerContext {
      checkPair(settings.cert, settings.key);
      try {
        return {
          secureContext: builtin("node:tls").createSecureContext({
            cert: settings.cert,
            key: settings.key,
          }),
          alpnProtocols: settings.alpnProtocols,
        } satisfies ServerContext;
      } catch (err) {
        throw /key values mismatch/.test((err as Error).message)
          ? NetError.keyMismatch()
          : NetError.tlsInvalid((err as Error).message);
      }
    },
    accept(stream: NativeStream, context: TlsServerContext): TlsStream {
      const { secureContext, alpnProtocols } = context as ServerContext;
      const raw = socketOf(stream);
      const socket = new (builtin("node:tls").TLSSocket)(raw, {
        isServer: true,
        secureContext,
        ALPNProtocols: alpnProtocols,
      });
      // A TLSSocket of no `tls.Server` reports its TLS errors as
      // `_tlsError` only, until released as the server would release it.
      (socket as { _releaseControl?: () => void })._releaseControl?.();
      return new TlsSocketStream(socket, stream, true, raw);
    },
    // deno-lint-ignore require-await
    async start(stream, settings): Promise<TlsStream> {
      return open(stream, settings);
    },
    async connect(hostname, port, settings, signal): Promise<TlsStream> {
      return open(await connect(hostname, port, signal), settings);
    },
  };
}
