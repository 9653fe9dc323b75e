/**
 * TLS on Deno: Deno's own `listenTls`, `connectTls` and `startTls`; and
 * `node:tls` (Deno's Node layer, over a Duplex) for the connections Deno's
 * TLS cannot take,
 * those of sockets bound with `SO_REUSEPORT` through that layer (the kernel
 * strategy: `Deno.listenTls({ reusePort })` would exit the process without
 * `--unstable-net`).
 *
 * @module
 */
import { duplexOf } from "../tls/_duplex.ts";
import { nodeTls } from "../tls/node_tls.ts";
import type {
  BindRequest,
  NativeListener,
  NativeStream,
  SocketAddress,
  Tls,
  TlsClientSettings,
  TlsHandshakeInfo,
  TlsServerContext,
  TlsServerSettings,
  TlsStream,
} from "../types.ts";
import { denoNamespace, type DenoTlsConn, rethrow } from "./_native.ts";
import { DenoListenerAdapter, DenoStream, tcpAddr } from "./_stream.ts";
import { bindError } from "./_workers.ts";

/** A TLS connection of Deno's as a `TlsStream`. */
class DenoTlsStream extends DenoStream<SocketAddress, DenoTlsConn>
  implements TlsStream {
  handshake(): Promise<TlsHandshakeInfo> {
    return this.conn.handshake().then(
      ({ alpnProtocol }) => ({ alpnProtocol }),
      rethrow,
    );
  }
}

const wrap = (conn: DenoTlsConn): TlsStream => new DenoTlsStream(conn, tcpAddr);

/** A server's settings, and `node:tls`'s context for them once needed. */
interface ServerContext {
  settings: TlsServerSettings;
  node?: TlsServerContext;
}

/**
 * `node:tls` over a Duplex: Deno's Node layer does not run TLS over a
 * `net.Socket` made on a TCP handle of its own (the handshake never starts).
 */
const viaNode: Tls = nodeTls(duplexOf, () => {
  throw new Error("unreachable: Deno connects with its own TLS");
});

function nodeContext(context: ServerContext): TlsServerContext {
  context.node ??= viaNode.serverContext(context.settings);
  return context.node;
}

/** What Deno's `connectTls` and `startTls` take of a client's settings. */
export function connectOptions(settings: TlsClientSettings): {
  hostname: string;
  caCerts: string[];
  alpnProtocols?: string[];
  unsafelyDisableHostnameVerification: boolean;
} {
  return {
    hostname: settings.hostname,
    caCerts: settings.caCerts,
    alpnProtocols: settings.alpnProtocols,
    unsafelyDisableHostnameVerification:
      settings.unsafelyDisableHostnameVerification,
  };
}

/** Deno's TLS. */
export const denoTls: Tls = {
  serverContext(settings: TlsServerSettings): TlsServerContext {
    return { settings } satisfies ServerContext;
  },

  listen(
    request: BindRequest,
    context: TlsServerContext,
  ): NativeListener | undefined {
    // With SO_REUSEPORT the socket is bound through the Node layer, and its
    // connections go through `accept()`.
    if (request.reusePort) return undefined;
    const { cert, key, alpnProtocols } = (context as ServerContext).settings;
    try {
      return new DenoListenerAdapter(
        denoNamespace()!.listenTls({
          hostname: request.hostname,
          port: request.port,
          cert,
          key,
          alpnProtocols,
          tcpBacklog: request.backlog,
        }),
        tcpAddr,
        wrap,
      );
    } catch (err) {
      throw bindError(err, request.shared === true);
    }
  },

  accept(stream: NativeStream, context: TlsServerContext): TlsStream {
    return viaNode.accept(stream, nodeContext(context as ServerContext));
  },

  async start(
    stream: NativeStream,
    settings: TlsClientSettings,
  ): Promise<TlsStream> {
    if (!(stream instanceof DenoStream)) return viaNode.start(stream, settings);
    try {
      return wrap(
        await denoNamespace()!.startTls(stream.conn, connectOptions(settings)),
      );
    } catch (err) {
      rethrow(err);
    }
  },

  async connect(
    _hostname: string,
    port: number,
    settings: TlsClientSettings,
    signal?: AbortSignal,
  ): Promise<TlsStream> {
    signal?.throwIfAborted();
    try {
      return wrap(
        // The name to verify is the one to connect to: not the address
        // the ops resolved `localhost` to.
        await denoNamespace()!.connectTls({
          ...connectOptions(settings),
          port,
          cert: settings.cert,
          key: settings.key,
        }),
      );
    } catch (err) {
      rethrow(err);
    }
  },
};
