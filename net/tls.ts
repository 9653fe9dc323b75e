/**
 * TLS: `listenTls`, `connectTls`, `startTls`, `TlsConn` and `TlsListener`,
 * after Deno's `ext/net/02_tls.js`, over the ops of `ops/ops_tls.ts`. A TLS
 * listener binds and shares its address exactly as `listen` does
 * (`reusePort`, `loadBalanced`).
 *
 * @module
 */
import { NetError } from "../core/messages.ts";
import {
  op_net_accept_tls,
  op_net_connect_tls,
  op_tls_handshake,
  op_tls_key_null,
  op_tls_key_static,
  op_tls_start,
  type TlsKeys,
} from "../ops/mod.ts";
import { type NetAddr, netAddr, unsupportedTransport } from "./addr.ts";
import { Conn, instanceOf } from "./conn.ts";
import {
  connectTlsOwn,
  isOwn,
  listenTlsOrOwn,
  startTlsOwn,
} from "../ops/own.ts";
import { Listener } from "./listener.ts";

/**
 * What a finished handshake agreed, as `Deno.TlsHandshakeInfo`.
 *
 * @example
 * ```ts
 * import type { TlsHandshakeInfo } from "@reuseport/net";
 *
 * const info: TlsHandshakeInfo = { alpnProtocol: "h2" };
 * console.log(info.alpnProtocol);
 * ```
 */
export interface TlsHandshakeInfo {
  /** The protocol ALPN chose, or `null` when none was. */
  alpnProtocol: string | null;
}

/**
 * A key pair in PEM, as `Deno.TlsCertifiedKeyPem`.
 *
 * @example
 * ```ts
 * import type { TlsCertifiedKeyPem } from "@reuseport/net";
 *
 * const pair: Partial<TlsCertifiedKeyPem> = { keyFormat: "pem" };
 * console.log(pair.keyFormat);
 * ```
 */
export interface TlsCertifiedKeyPem {
  /** Only `"pem"`. */
  keyFormat?: "pem";
  /** The certificate chain, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
}

/**
 * Options of `listenTls`, as `Deno.ListenTlsOptions` with `Deno.TcpListenOptions`.
 *
 * @example
 * ```ts
 * import type { ListenTlsOptions } from "@reuseport/net";
 *
 * const options: Omit<ListenTlsOptions, "cert" | "key"> = { port: 8443, alpnProtocols: ["h2", "http/1.1"], reusePort: true };
 * console.log(options.port);
 * ```
 */
export interface ListenTlsOptions extends TlsCertifiedKeyPem {
  /** Port to listen on; 0 or absent lets the OS choose. */
  port?: number;
  /** Address to bind; defaults to `0.0.0.0`. */
  hostname?: string;
  /** Only `"tcp"`. */
  transport?: "tcp";
  /** ALPN protocols the server supports, in its order of preference. */
  alpnProtocols?: string[];
  /** Let other listeners share the address; connections are spread across them. */
  reusePort?: boolean;
  /** Share one socket between all listeners of this process on the address. */
  loadBalanced?: boolean;
  /** Kernel backlog of connections not yet accepted; defaults to 511. */
  tcpBacklog?: number;
}

/**
 * Options of `connectTls`, as `Deno.ConnectTlsOptions`.
 *
 * @example
 * ```ts
 * import type { ConnectTlsOptions } from "@reuseport/net";
 *
 * const options: ConnectTlsOptions = { hostname: "localhost", port: 8443, alpnProtocols: ["h2"] };
 * console.log(options.hostname);
 * ```
 */
export interface ConnectTlsOptions {
  /** Port to connect to. */
  port: number;
  /** Host to connect to, and the name the certificate must be valid for; defaults to `127.0.0.1`. */
  hostname?: string;
  /** Only `"tcp"`. */
  transport?: "tcp";
  /** PEM certificates to trust in place of the default roots. */
  caCerts?: string[];
  /** ALPN protocols to offer. */
  alpnProtocols?: string[];
  /** Only `"pem"`. */
  keyFormat?: "pem";
  /** A client certificate chain, PEM (with `key`). */
  cert?: string;
  /** The client certificate's key, PEM (with `cert`). */
  key?: string;
  /** Skip checking that the certificate is valid for `hostname` (it is still checked against the CAs). */
  unsafelyDisableHostnameVerification?: boolean;
}

/**
 * Options of `startTls`, as `Deno.StartTlsOptions`.
 *
 * @example
 * ```ts
 * import type { StartTlsOptions } from "@reuseport/net";
 *
 * const options: StartTlsOptions = { hostname: "db.internal" };
 * console.log(options.hostname);
 * ```
 */
export interface StartTlsOptions {
  /** The name the server's certificate must be valid for; defaults to `127.0.0.1`. */
  hostname?: string;
  /** PEM certificates to trust in place of the default roots. */
  caCerts?: string[];
  /** ALPN protocols to offer. */
  alpnProtocols?: string[];
  /** Skip checking that the certificate is valid for `hostname`. */
  unsafelyDisableHostnameVerification?: boolean;
}

/**
 * A TLS connection, as `Deno.TlsConn`: a `Conn` whose handshake runs as it
 * is first read or written, or on `handshake()`.
 *
 * @example
 * ```ts
 * import { TlsConn } from "@reuseport/net";
 *
 * console.log(TlsConn.prototype.handshake.name); // "handshake"
 * ```
 */
export class TlsConn extends Conn<NetAddr> {
  /**
   * `value instanceof TlsConn`: one of ours, or one of the runtime's own
   * TLS conns (native Deno's `startTls` of one of its own conns).
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return instanceOf(this, TlsConn, "tlsConn", value);
  }

  #rid: number;

  /** Wraps the TLS stream resource `rid`; made by `connectTls`, `startTls` and `TlsListener#accept`. */
  constructor(rid: number, remoteAddr: NetAddr, localAddr: NetAddr) {
    super(rid, remoteAddr, localAddr);
    this.#rid = rid;
  }

  /** Runs the handshake if it has not run; resolves with what it agreed. */
  handshake(): Promise<TlsHandshakeInfo> {
    return op_tls_handshake(this.#rid);
  }
}

/**
 * `Deno.TlsListener`: a `Listener` of `TlsConn`s.
 *
 * @example
 * ```ts
 * import type { TlsListener } from "@reuseport/net";
 *
 * const close = (listener: TlsListener) => listener.close();
 * console.log(typeof close);
 * ```
 */
export type TlsListener = Listener<TlsConn, NetAddr>;

/** Deno's `loadTlsKeyPair`: the key pair of `options`, checked as Deno checks it. */
function keyPair(
  api: string,
  options: { keyFormat?: unknown; cert?: string; key?: string },
): TlsKeys {
  const { keyFormat, cert, key } = options;
  if (keyFormat !== undefined && keyFormat !== "pem") {
    throw NetError.keyFormatNotPem(keyFormat);
  }
  if (cert !== undefined && key === undefined) {
    throw NetError.keyPairHalf("cert", api);
  }
  if (cert === undefined && key !== undefined) {
    throw NetError.keyPairHalf("key", api);
  }
  return cert === undefined ? op_tls_key_null() : op_tls_key_static(cert, key!);
}

/** A TLS listener's accept: the next connection as a `TlsConn`, before its handshake. */
async function acceptTls(rid: number): Promise<TlsConn> {
  const [connRid, localAddr, remoteAddr] = await op_net_accept_tls(rid);
  return new TlsConn(connRid, netAddr(remoteAddr), netAddr(localAddr));
}

/**
 * Listens for TLS on a TCP address, synchronously, as `Deno.listenTls`: the
 * same binding and sharing as `listen` (`reusePort`, `loadBalanced`); each
 * connection's handshake runs in the listener that accepts it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenTls } from "@reuseport/net";
 *
 * // Without a key pair there is nothing to serve with.
 * assert.throws(() => listenTls({ port: 0 } as never), TypeError);
 * ```
 */
export function listenTls(options: ListenTlsOptions): TlsListener {
  const { transport = "tcp" } = options;
  if (transport !== "tcp") throw unsupportedTransport(transport);
  if (options.cert === undefined && options.key === undefined) {
    throw NetError.keyPairRequired("Deno.listenTls");
  }
  const keys = keyPair("Deno.listenTls", options);
  const listened = listenTlsOrOwn(
    { hostname: options.hostname ?? "0.0.0.0", port: options.port ?? 0 },
    {
      alpnProtocols: options.alpnProtocols,
      reusePort: options.reusePort ?? false,
      loadBalanced: options.loadBalanced,
      tcpBacklog: options.tcpBacklog,
    },
    keys,
  );
  // Where nothing is emulated, the runtime's own listener, as it is.
  if (!Array.isArray(listened)) return listened as TlsListener;
  const [rid, addr] = listened;
  return new Listener(rid, netAddr(addr), acceptTls);
}

/**
 * Connects to a TLS server, as `Deno.connectTls`; resolves once connected,
 * before the handshake, whose failure (an unknown CA, a certificate not for
 * `hostname`) rejects the first read, write or `handshake()` with
 * `errors.InvalidData`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectTls, errors, listen } from "@reuseport/net";
 *
 * // A server that does not speak TLS: the handshake fails.
 * const plain = listen({ hostname: "127.0.0.1", port: 0 });
 * plain.accept().then((conn) => conn.close());
 * const conn = await connectTls({ hostname: "127.0.0.1", port: plain.addr.port });
 * await assert.rejects(conn.handshake(), (err) => err instanceof errors.UnexpectedEof);
 * conn.close();
 * plain.close();
 * ```
 */
export async function connectTls(options: ConnectTlsOptions): Promise<TlsConn> {
  const { transport = "tcp" } = options;
  if (transport !== "tcp") throw unsupportedTransport(transport);
  const keys = keyPair("Deno.connectTls", options);
  const addr = {
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port,
  };
  const args = {
    caCerts: options.caCerts ?? [],
    alpnProtocols: options.alpnProtocols,
    unsafelyDisableHostnameVerification:
      options.unsafelyDisableHostnameVerification ?? false,
  };
  const own = connectTlsOwn(addr, args, keys);
  if (own) return await own as TlsConn;
  const [rid, localAddr, remoteAddr] = await op_net_connect_tls(
    addr,
    args,
    keys,
  );
  return new TlsConn(rid, netAddr(remoteAddr), netAddr(localAddr));
}

/**
 * Starts TLS as a client on a TCP connection, as `Deno.startTls`: what a
 * protocol that upgrades (PostgreSQL's `SSLRequest`, SMTP's and NATS's
 * STARTTLS) calls once the server agreed. `conn` is taken over: use the
 * returned `TlsConn` from then on. `errors.Busy` while a read or write is
 * pending on `conn`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, errors, listen, startTls } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * const [tcp, server] = await Promise.all([
 *   connect({ port: listener.addr.port }),
 *   listener.accept(),
 * ]);
 * const reading = tcp.read(new Uint8Array(1));
 * // A read is pending: Busy (and, as on Deno, `tcp` is gone).
 * await assert.rejects(startTls(tcp, { hostname: "localhost" }), errors.Busy);
 * server.close();
 * listener.close();
 * await reading;
 * ```
 */
export async function startTls(
  conn: Conn<NetAddr>,
  options: StartTlsOptions = {},
): Promise<TlsConn> {
  const args = {
    hostname: options.hostname ?? "127.0.0.1",
    caCerts: options.caCerts ?? [],
    alpnProtocols: options.alpnProtocols,
    unsafelyDisableHostnameVerification:
      options.unsafelyDisableHostnameVerification ?? false,
  };
  // The runtime's own conn (a pass-through one): the runtime's own startTls.
  if (isOwn("tcpConn", conn)) {
    return await startTlsOwn(conn, args, op_tls_key_null()) as TlsConn;
  }
  const [rid, localAddr, remoteAddr] = await op_tls_start(
    { rid: Conn.ridOf(conn), ...args },
    op_tls_key_null(),
  );
  return new TlsConn(rid, netAddr(remoteAddr), netAddr(localAddr));
}
