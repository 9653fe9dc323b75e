/**
 * TLS through `node:tls`, over whatever socket the runtime hands it: Node's
 * and Bun's TLS, and Deno's for connections that its own TLS cannot take
 * (those bound with `SO_REUSEPORT` through its Node layer). A server-side
 * `TLSSocket` over an accepted connection, `tls.connect({ socket })` for
 * `startTls`: the handshake runs in the thread that took the connection.
 *
 * @module
 */
import type { Duplex } from "node:stream";
import * as tls from "node:tls";
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
import { tlsError } from "./_errors.ts";

/** A server's compiled settings. */
interface ServerContext {
  secureContext: tls.SecureContext;
  alpnProtocols?: string[];
}

/** A `TLSSocket` as a `TlsStream`: reads and writes wait for the handshake. */
export class TlsSocketStream extends NetStream implements TlsStream {
  #done: Promise<TlsHandshakeInfo>;
  #handshaking = true;
  #held = false;

  /** Takes over `socket`, which runs over `under`'s connection. */
  constructor(socket: tls.TLSSocket, under: NativeStream, server: boolean) {
    super(socket, under);
    this.toError = (err) => tlsError(err, this.#handshaking);
    this.#done = new Promise((resolve, reject) => {
      socket.once(server ? "secure" : "secureConnect", () => {
        this.#handshaking = false;
        resolve({ alpnProtocol: socket.alpnProtocol || null });
      });
      socket.once("close", () => {
        if (this.#handshaking) {
          reject(this.queue.failure() ?? NetError.tlsEof());
        }
      });
    });
    // Seen through `handshake()` or a read, if anyone asks.
    this.#done.catch(() => {});
    // An end before the handshake finished is an unexpected one.
    socket.prependListener("end", () => {
      if (this.#handshaking) this.queue.fail(NetError.tlsEof());
    });
  }

  /** Resolves once the handshake is done; rejects as it failed. */
  handshake(): Promise<TlsHandshakeInfo> {
    const failure = this.queue.failure();
    if (failure && this.#handshaking) return Promise.reject(failure);
    return this.#done;
  }

  protected override readsAsEnd(err: unknown): boolean {
    return !this.#handshaking && super.readsAsEnd(err);
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
      : tls.checkServerIdentity,
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
    const socket = tls.connect({
      ...clientOptions(settings),
      socket: socketOf(stream),
    });
    return new TlsSocketStream(socket, stream, false);
  };
  return {
    serverContext(settings: TlsServerSettings): TlsServerContext {
      try {
        return {
          secureContext: tls.createSecureContext({
            cert: settings.cert,
            key: settings.key,
          }),
          alpnProtocols: settings.alpnProtocols,
        } satisfies ServerContext;
      } catch (err) {
        throw NetError.tlsInvalid((err as Error).message);
      }
    },
    accept(stream: NativeStream, context: TlsServerContext): TlsStream {
      const { secureContext, alpnProtocols } = context as ServerContext;
      const socket = new tls.TLSSocket(socketOf(stream), {
        isServer: true,
        secureContext,
        ALPNProtocols: alpnProtocols,
      });
      return new TlsSocketStream(socket, stream, true);
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
