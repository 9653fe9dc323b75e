/**
 * TLS on Bun: a connection a Bun listener accepted is upgraded in place by
 * Bun's own TLS (`socket.upgradeTLS`), so its handshake and records run in
 * native code as `Bun.listen({ tls })`'s do; clients, and connections that
 * are not Bun sockets (the runner's, passed as `node:net` sockets), go
 * through `node:tls`.
 *
 * @module
 */
import { NetError } from "../../core/messages.ts";
import { isReset } from "../errno.ts";
import { hold, release } from "../loop_hold.ts";
import { tlsError } from "../tls/_errors.ts";
import type {
  NativeStream,
  SocketAddress,
  Tls,
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

/**
 * A Bun TLS socket as a `TlsStream`: Deno's TLS rules over the Bun stream
 * (writes and `closeWrite` wait for the handshake, a close finishes it and
 * says `close_notify`).
 */
class BunTlsStream extends BunStream implements TlsStream {
  #tls: BunSocket;
  #done: Promise<TlsHandshakeInfo>;
  #settle: (err: Error | null) => void = () => {};
  #handshaking = true;
  #shut = false;
  #closing = false;

  constructor(
    socket: BunSocket,
    addrs: { local: SocketAddress; remote: SocketAddress },
  ) {
    super(socket, addrs);
    this.#tls = socket;
    this.#done = new Promise((resolve, reject) => {
      this.#settle = (err) =>
        err
          ? reject(err)
          : resolve({ alpnProtocol: socket.alpnProtocol || null });
    });
    // Seen through `handshake()` or a read, if anyone asks.
    this.#done.catch(() => {});
  }

  /** Resolves once the handshake is done; rejects as it failed. */
  handshake(): Promise<TlsHandshakeInfo> {
    const failure = this.queue.failure();
    if (failure && this.#handshaking) return Promise.reject(failure);
    if (!this.#handshaking) return this.#done;
    // A pending handshake keeps the process alive, as Deno's op does.
    hold();
    return this.#done.finally(release);
  }

  override write(buf: Uint8Array): Promise<number> {
    // After `closeWrite()` Deno's TLS stream is no longer connected for
    // writing (nothing, though, can still be written).
    if (this.#shut) {
      return buf.byteLength === 0
        ? Promise.resolve(0)
        : Promise.reject(NetError.tlsWriteShut());
    }
    if (this.#handshaking) return this.handshake().then(() => super.write(buf));
    return super.write(buf);
  }

  override shutdown(): Promise<void> {
    this.#shut = true;
    // As Deno's: the handshake first, then `close_notify`.
    if (!this.#handshaking) return super.shutdown();
    return this.handshake().then(() => super.shutdown());
  }

  /**
   * Closes as Deno's TLS stream does when dropped: a handshake under way
   * finishes (bounded: a peer that never answers does not keep the socket),
   * then `close_notify` goes out; reads end now.
   */
  override close(): void {
    if (!this.#handshaking) return super.close();
    if (this.#closing) return;
    this.#closing = true;
    this.queue.close();
    this.stopHolding();
    const timer = setTimeout(() => this.#tls.terminate(), CLOSE_GRACE_MS);
    (timer as { unref?: () => void }).unref?.();
    const close = () => {
      clearTimeout(timer);
      super.close();
    };
    this.#done.then(close, close);
  }

  protected override socketFailed(err: BunError): void {
    // As on TCP, a reset after the handshake ends the stream.
    if (!this.#handshaking && isReset(err)) return this.queue.end();
    const failure = tlsError(err, this.#handshaking);
    this.queue.fail(failure);
    this.#handshook(failure);
  }

  /** The handshake is over: done (`null`) or failed with `err`. */
  #handshook(err: Error | null): void {
    if (!this.#handshaking) return;
    this.#handshaking = false;
    if (err) this.queue.fail(err);
    this.#settle(err);
  }

  /** The callbacks of the TLS sockets: the stream's, and the handshake's. */
  static readonly tlsHandlers: SocketHandlers = {
    ...BunStream.handlers,
    handshake(socket, success, err) {
      const stream = socket.data as BunTlsStream | undefined;
      if (!stream) return;
      stream.#handshook(
        success ? null : tlsError(err ?? NetError.tlsEof(), true),
      );
    },
    // The end of the peer's bytes, or of the connection, before the
    // handshake finished is an unexpected one.
    end(socket) {
      const stream = socket.data as BunTlsStream | undefined;
      if (stream && stream.#handshaking) stream.#handshook(NetError.tlsEof());
      BunStream.handlers.end(socket);
    },
    close(socket, err) {
      const stream = socket.data as BunTlsStream | undefined;
      if (!err && stream && stream.#handshaking) {
        stream.#handshook(NetError.tlsEof());
      }
      BunStream.handlers.close(socket, err);
    },
  };
}

/** Bun's TLS for the connections its listeners accept, `base`'s for the rest. */
export function bunTls(base: Tls): Tls {
  return {
    start: base.start,
    connect: base.connect,
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
      const handed = stream instanceof BunStream ? stream.detach() : undefined;
      if (!handed) return base.accept(stream, node);
      const sockets = handed.socket.upgradeTLS({
        tls: bun,
        isServer: true,
        socket: BunTlsStream.tlsHandlers,
        initialData: handed.pending,
      });
      // Bun gives none for a socket that is closed, which `detach` rules out.
      if (!sockets) throw NetError.tlsEof();
      // The plain socket under it no longer holds the process.
      sockets[0].unref();
      return new BunTlsStream(sockets[1], {
        local: stream.localAddr,
        remote: stream.remoteAddr,
      });
    },
  };
}
