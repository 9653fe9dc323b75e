/**
 * TLS on Bun: a Bun socket, accepted or connected, is upgraded in place by
 * Bun's own TLS (`socket.upgradeTLS`), so its handshake and records run in
 * native code as `Bun.listen({ tls })`'s and `Bun.connect({ tls })`'s do. A
 * client's verification is done on the handshake, as `node:tls` does it,
 * for Deno's errors. Connections that are not Bun sockets (the runner's,
 * passed as `node:net` sockets) go through `node:tls`.
 *
 * @module
 */
import { NetError } from "../../core/messages.ts";
import { builtin } from "../builtin.ts";
import { isReset } from "../errno.ts";
import { tlsError } from "../tls/_errors.ts";
import { TlsHandshake } from "../tls/_handshake.ts";
import type {
  NativeStream,
  SocketAddress,
  Tls,
  TlsClientSettings,
  TlsHandshakeInfo,
  TlsServerContext,
  TlsServerSettings,
  TlsStream,
} from "../types.ts";
import type {
  BunError,
  BunSocket,
  BunTlsOptions,
  SocketHandlers,
} from "./_bun.ts";
import { BunStream } from "./_stream.ts";

/** How long a stream closed during its handshake may take to finish it. */
const CLOSE_GRACE_MS = 5_000;

/** A server's settings: `node:tls`'s, for the connections Bun's TLS cannot take, and Bun's. */
interface ServerContext {
  node: TlsServerContext;
  bun: BunTlsOptions;
}

/** ALPN's wire format: each protocol preceded by its length in a byte. */
function alpnWire(protocols: string[] | undefined): Uint8Array | undefined {
  if (!protocols || protocols.length === 0) return undefined;
  const names = protocols.map((p) => new TextEncoder().encode(p));
  const wire = new Uint8Array(names.reduce((n, p) => n + 1 + p.length, 0));
  let at = 0;
  for (const name of names) {
    wire[at++] = name.length;
    wire.set(name, at);
    at += name.length;
  }
  return wire;
}

/** A client's check of the handshake: the failure, or `null` for none. */
type Verify = (socket: BunSocket, err: BunError | null) => Error | null;

/**
 * A Bun TLS socket as a `TlsStream`: Deno's TLS rules over the Bun stream
 * (writes and `closeWrite` wait for the handshake, a close finishes it and
 * says `close_notify`).
 */
class BunTlsStream extends BunStream implements TlsStream {
  #socket: BunSocket;
  #tls = new TlsHandshake();
  #closing = false;
  #verify: Verify | undefined;

  /** Takes over `socket`; a client's `verify` checks its handshake. */
  constructor(
    socket: BunSocket,
    addrs: { local: SocketAddress; remote: SocketAddress },
    verify?: Verify,
  ) {
    super(socket, addrs);
    this.#socket = socket;
    this.#verify = verify;
  }

  /** Resolves once the handshake is done; rejects as it failed. */
  handshake(): Promise<TlsHandshakeInfo> {
    return this.#tls.wait(this.queue.failure());
  }

  override write(buf: Uint8Array): Promise<number> {
    if (this.#tls.open) return super.write(buf);
    return this.#tls.beforeWrite(buf, this.queue.failure())
      .then((go) => go ? super.write(buf) : 0);
  }

  override shutdown(): Promise<void> {
    const handshake = this.#tls.shut(this.queue.failure());
    return handshake
      ? handshake.then(() => super.shutdown())
      : super.shutdown();
  }

  /**
   * Closes as Deno's TLS stream does when dropped: a handshake under way
   * finishes (bounded: a peer that never answers does not keep the socket),
   * then `close_notify` goes out; reads end now.
   */
  override close(): void {
    if (!this.#tls.handshaking) return super.close();
    if (this.#closing) return;
    this.#closing = true;
    this.queue.close();
    this.stopHolding();
    const timer = setTimeout(() => this.#socket.terminate(), CLOSE_GRACE_MS);
    (timer as { unref?: () => void }).unref?.();
    const close = () => {
      clearTimeout(timer);
      super.close();
    };
    this.#tls.done.then(close, close);
  }

  protected override socketFailed(err: BunError): void {
    // As on TCP, a reset after the handshake ends the stream.
    if (!this.#tls.handshaking && isReset(err)) return this.queue.end();
    const failure = tlsError(err, this.#tls.handshaking);
    this.queue.fail(failure);
    this.#handshook(failure);
  }

  /** The handshake is over: done (`null`) or failed with `err`. */
  #handshook(err: Error | null): void {
    if (!this.#tls.handshaking) return;
    if (!err) {
      return this.#tls.succeeded({
        alpnProtocol: this.#socket.alpnProtocol || null,
      });
    }
    this.queue.fail(err);
    this.#tls.failed(err);
  }

  /** The callbacks of the TLS sockets: the stream's, and the handshake's. */
  static readonly tlsHandlers: SocketHandlers = {
    ...BunStream.handlers,
    handshake(socket, success, err) {
      const stream = socket.data as BunTlsStream | undefined;
      if (!stream) return;
      if (!stream.#verify) {
        return stream.#handshook(
          success ? null : tlsError(err ?? NetError.tlsEof(), true),
        );
      }
      const failure = stream.#verify(socket, err);
      stream.#handshook(failure);
      // A client that refuses the server hangs up, as `node:tls`'s does.
      if (failure) socket.terminate();
    },
    // The end of the peer's bytes, or of the connection, before the
    // handshake finished is an unexpected one.
    end(socket) {
      const stream = socket.data as BunTlsStream | undefined;
      if (stream && stream.#tls.handshaking) {
        stream.#handshook(NetError.tlsEof());
      }
      BunStream.handlers.end(socket);
    },
    close(socket, err) {
      const stream = socket.data as BunTlsStream | undefined;
      if (!err && stream && stream.#tls.handshaking) {
        stream.#handshook(NetError.tlsEof());
      }
      BunStream.handlers.close(socket, err);
    },
  };
}

/** `stream`'s socket under TLS, or `undefined` where it cannot be handed on. */
function upgrade(
  stream: NativeStream,
  tls: BunTlsOptions,
  verify?: Verify,
): BunTlsStream | undefined {
  const handed = stream instanceof BunStream ? stream.detach() : undefined;
  if (!handed) return undefined;
  const sockets = handed.socket.upgradeTLS({
    tls,
    isServer: !verify,
    socket: BunTlsStream.tlsHandlers,
    initialData: handed.pending,
  });
  // Bun gives none for a socket that is closed, which `detach` rules out.
  if (!sockets) throw NetError.tlsEof();
  // The plain socket under it no longer holds the process.
  sockets[0].unref();
  return new BunTlsStream(
    sockets[1],
    { local: stream.localAddr, remote: stream.remoteAddr },
    verify,
  );
}

/**
 * What Deno verifies (`unsafelyDisableHostnameVerification` honoured),
 * checked as `node:tls` checks it, so that a failure is worded alike.
 */
function verifier(settings: TlsClientSettings): Verify {
  return (socket, err) => {
    const peer = () => socket.getPeerCertificate?.();
    // The name is checked below, where it can be turned off.
    if (err && err.code !== "ERR_TLS_CERT_ALTNAME_INVALID") {
      return tlsError(err, true, peer);
    }
    if (settings.unsafelyDisableHostnameVerification) return null;
    const mismatch = builtin("node:tls").checkServerIdentity(
      settings.hostname,
      // deno-lint-ignore no-explicit-any
      (peer() ?? {}) as any,
    );
    return mismatch ? tlsError(mismatch, true) : null;
  };
}

/** A client's options for Bun's TLS: Deno's, as `node:tls` is given them. */
function clientTls(settings: TlsClientSettings): BunTlsOptions {
  const { hostname, caCerts, alpnProtocols, cert, key } = settings;
  const ALPNProtocols = alpnWire(alpnProtocols);
  return {
    // SNI carries names only, never an IP literal.
    ...(/^[\d.]+$|:/.test(hostname) ? {} : { serverName: hostname }),
    ...(caCerts.length > 0 ? { ca: caCerts } : {}),
    ...(cert && key ? { cert, key } : {}),
    ...(ALPNProtocols ? { ALPNProtocols } : {}),
    rejectUnauthorized: false,
  };
}

/**
 * Bun's TLS over Bun's sockets, `base`'s (`node:tls`) over any other;
 * `connect` makes a plain connection for `connectTls`.
 */
export function bunTls(
  base: Tls,
  connect: (
    hostname: string,
    port: number,
    signal?: AbortSignal,
  ) => Promise<NativeStream>,
): Tls {
  const start = (
    stream: NativeStream,
    settings: TlsClientSettings,
  ): Promise<TlsStream> => {
    const tls = upgrade(stream, clientTls(settings), verifier(settings));
    return tls ? Promise.resolve(tls) : base.start(stream, settings);
  };
  return {
    serverContext(settings: TlsServerSettings): TlsServerContext {
      // `node:tls`'s checks the pair and says what is wrong with it.
      const node = base.serverContext(settings);
      const { cert, key, alpnProtocols } = settings;
      const ALPNProtocols = alpnWire(alpnProtocols);
      return {
        node,
        bun: { cert, key, ...(ALPNProtocols ? { ALPNProtocols } : {}) },
      } satisfies ServerContext;
    },
    accept(stream: NativeStream, context: TlsServerContext): TlsStream {
      const { node, bun } = context as ServerContext;
      return upgrade(stream, bun) ?? base.accept(stream, node);
    },
    start,
    async connect(hostname, port, settings, signal): Promise<TlsStream> {
      return await start(await connect(hostname, port, signal), settings);
    },
  };
}
