/**
 * The TLS ops, with the names and shapes of Deno's `ext/net/ops_tls.rs`:
 * a TLS listener is a TCP listener of `ops/tcp.ts` (the same strategies,
 * the same sharing) whose connections get TLS in the listener that accepts
 * them, so the handshake's work lands where the connection is served.
 *
 * @module
 */
import { NetError } from "../core/messages.ts";
import type {
  NativeStream,
  SocketAddress,
  TlsClientSettings,
  TlsHandshakeInfo,
  TlsServerContext,
  TlsServerSettings,
  TlsStream,
} from "../platform/types.ts";
import {
  literalAddress,
  validateHostname,
  validateKeyPair,
  validatePort,
} from "./_validate.ts";
import { StreamResource, TcpStreamResource } from "./io.ts";
import { type Resource, resourceTable } from "./resources.ts";
import { runtime } from "./runtime.ts";
import { type ListenPlan, planListen } from "./ops.ts";
import { connections, type TcpListenerResource } from "./tcp.ts";

export type { TlsHandshakeInfo };

/**
 * A key pair (or none), as Deno's `op_tls_key_static` and
 * `op_tls_key_null` make it: checked once, used by the ops that take one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { op_tls_key_null, type TlsKeys } from "@reuseport/net/ops";
 *
 * const none: TlsKeys = op_tls_key_null();
 * assert.equal(none.cert, undefined);
 * ```
 */
export interface TlsKeys {
  /** The certificate chain, PEM; absent for no key pair. */
  readonly cert?: string;
  /** The private key, PEM. */
  readonly key?: string;
}

/**
 * No key pair: what a client without a certificate passes.
 *
 * @example
 * ```ts
 * import { op_tls_key_null } from "@reuseport/net/ops";
 *
 * console.log(op_tls_key_null()); // {}
 * ```
 */
export function op_tls_key_null(): TlsKeys {
  return {};
}

/**
 * A PEM certificate chain and private key; `InvalidData` when either holds
 * none, with Deno's messages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 * import { op_tls_key_static } from "@reuseport/net/ops";
 *
 * assert.throws(() => op_tls_key_static("not a certificate", ""), errors.InvalidData);
 * ```
 */
export function op_tls_key_static(cert: string, key: string): TlsKeys {
  validateKeyPair(cert, key);
  return { cert: String(cert), key: String(key) };
}

/** A TLS listener in the resource table: a TCP listener whose connections get TLS. */
export class TlsListenerResource implements Resource {
  readonly name = "tlsListener";
  readonly tcp: TcpListenerResource;
  #context: TlsServerContext;

  constructor(tcp: TcpListenerResource, context: TlsServerContext) {
    this.tcp = tcp;
    this.#context = context;
  }

  /** The bound address. */
  get addr(): SocketAddress {
    return this.tcp.addr;
  }

  /** The next connection, before its handshake: a slow client delays nobody. */
  async accept(): Promise<TlsStream> {
    const stream = await this.tcp.accept();
    // The runtime's own TLS listener hands out TLS streams already.
    if ("handshake" in stream) return stream as TlsStream;
    return runtime().tls.accept(stream, this.#context);
  }

  setRef(ref: boolean): void {
    this.tcp.setRef(ref);
  }

  close(): void {
    this.tcp.close();
  }
}

/** A TLS stream in the resource table. */
export class TlsStreamResource extends StreamResource<SocketAddress> {
  readonly name = "tlsStream";
  declare readonly stream: TlsStream;
}

/**
 * Options of `op_net_listen_tls`, as Deno's `ListenTlsArgs`.
 *
 * @example
 * ```ts
 * import type { ListenTlsArgs } from "@reuseport/net/ops";
 *
 * const args: ListenTlsArgs = { alpnProtocols: ["h2", "http/1.1"], reusePort: true };
 * console.log(args.alpnProtocols);
 * ```
 */
export interface ListenTlsArgs {
  /** ALPN protocols in the server's order of preference. */
  alpnProtocols?: string[];
  /** Let other listeners share the address (see `op_net_listen_tcp`). */
  reusePort?: boolean;
  /** Share one socket between the listeners of this process on the address. */
  loadBalanced?: boolean;
  /** The kernel's queue of connections not yet accepted; defaults to 511. */
  tcpBacklog?: number;
}

/**
 * Binds, listens and returns `[rid, addr]` before any connection: the same
 * binding and sharing as `op_net_listen_tcp`, with TLS for each connection
 * accepted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { op_net_listen_tls, op_tls_key_null } from "@reuseport/net/ops";
 *
 * // A server needs a key pair (`op_tls_key_static(cert, key)`).
 * assert.throws(
 *   () => op_net_listen_tls({ hostname: "127.0.0.1", port: 0 }, {}, op_tls_key_null()),
 *   TypeError,
 * );
 * ```
 */
export function op_net_listen_tls(
  addr: { hostname: string; port: number },
  args: ListenTlsArgs,
  keys: TlsKeys,
): [number, SocketAddress] {
  const { plan, settings } = planListenTls(addr, args, keys);
  return listenTlsPlanned(plan, settings);
}

/**
 * `op_net_listen_tls`'s arguments checked: how to bind, and the server's
 * settings (a key pair is required).
 *
 * @ignore Internal: for `ops/own.ts`'s `listenTlsOrOwn`.
 */
export function planListenTls(
  addr: { hostname: string; port: number },
  args: ListenTlsArgs,
  keys: TlsKeys,
): { plan: ListenPlan; settings: TlsServerSettings } {
  if (keys.cert === undefined || keys.key === undefined) {
    throw NetError.keyPairRequired("Deno.listenTls");
  }
  const plan = planListen(
    addr,
    args.reusePort,
    args.loadBalanced,
    args.tcpBacklog,
  );
  const settings = {
    cert: keys.cert,
    key: keys.key,
    alpnProtocols: args.alpnProtocols,
  };
  return { plan, settings };
}

/**
 * Binds what `plan` says with TLS for each connection, as
 * `op_net_listen_tls`: a listener in the table.
 *
 * @ignore Internal: `op_net_listen_tls` is the public way in.
 */
export function listenTlsPlanned(
  plan: ListenPlan,
  settings: TlsServerSettings,
): [number, SocketAddress] {
  const context = runtime().tls.serverContext(settings);
  const tcp = connections.listen(
    plan.ip,
    plan.port,
    plan.strategy,
    plan.backlog,
    context,
  );
  const listener = new TlsListenerResource(tcp, context);
  return [resourceTable.add(listener), { ...listener.addr }];
}

/**
 * The next connection of the TLS listener `rid`, as `[rid, localAddr,
 * remoteAddr]`, before its handshake (it runs as the connection is read or
 * written, or on `op_tls_handshake`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 * import { close, op_net_accept_tls, op_net_listen_tcp } from "@reuseport/net/ops";
 *
 * // Only a TLS listener's rid will do.
 * const [tcp] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * await assert.rejects(op_net_accept_tls(tcp), errors.BadResource);
 * close(tcp);
 * ```
 */
export async function op_net_accept_tls(
  rid: number,
): Promise<[number, SocketAddress, SocketAddress]> {
  const resource = resourceTable.find(rid);
  if (!(resource instanceof TlsListenerResource)) {
    throw NetError.listenerClosed();
  }
  const stream = await resource.accept();
  const connRid = resourceTable.add(new TlsStreamResource(stream));
  return [connRid, { ...stream.localAddr }, { ...stream.remoteAddr }];
}

/**
 * Options of `op_net_connect_tls` and `op_tls_start`, as Deno's
 * `ConnectTlsArgs` / `StartTlsArgs`.
 *
 * @example
 * ```ts
 * import type { ConnectTlsArgs } from "@reuseport/net/ops";
 *
 * const args: ConnectTlsArgs = { caCerts: [], alpnProtocols: ["h2"] };
 * console.log(args.caCerts.length);
 * ```
 */
export interface ConnectTlsArgs {
  /** PEM certificates trusted in place of the system's roots, when not empty. */
  caCerts: string[];
  /** ALPN protocols offered. */
  alpnProtocols?: string[];
  /** The name to verify and send as SNI, in place of the host connected to. */
  serverName?: string | null;
  /** Skip the check that the certificate is valid for the name. */
  unsafelyDisableHostnameVerification?: boolean;
  /** Aborts the connect. */
  signal?: AbortSignal;
}

/** A TLS server name: a DNS name or an IP address (`InvalidHostname` otherwise). */
function serverName(hostname: string): string {
  // A DNS name's last label is not all digits: that would be an IP address.
  const dns = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/.test(hostname) &&
    !/(^|\.)\d+\.?$/.test(hostname);
  if (literalAddress(hostname) || dns) return hostname;
  throw NetError.invalidHostname(hostname);
}

/**
 * A client's TLS settings out of Deno's arguments: the server name checked
 * (`InvalidHostname`), the CAs as strings.
 *
 * @ignore Internal: for `ops/own.ts`'s `startTls` on the runtime's own conns.
 */
export function clientSettings(
  hostname: string,
  args: ConnectTlsArgs,
  keys: TlsKeys,
): TlsClientSettings {
  return {
    hostname: serverName(args.serverName ?? hostname),
    caCerts: (args.caCerts ?? []).map(String),
    alpnProtocols: args.alpnProtocols,
    cert: keys.cert,
    key: keys.key,
    unsafelyDisableHostnameVerification: Boolean(
      args.unsafelyDisableHostnameVerification,
    ),
  };
}

/**
 * Connects to `hostname:port` and starts TLS; resolves `[rid, localAddr,
 * remoteAddr]` once connected, before the handshake ends (its failure
 * rejects the first read, write or `op_tls_handshake`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 * import { close, op_net_accept_tcp, op_net_connect_tls, op_net_listen_tcp, op_tls_handshake, op_tls_key_null } from "@reuseport/net/ops";
 *
 * // A server that hangs up before any TLS: the handshake fails, not the connect.
 * const [lrid, addr] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * op_net_accept_tcp(lrid).then(([rid]) => close(rid));
 * const [rid] = await op_net_connect_tls(addr, { caCerts: [] }, op_tls_key_null());
 * await assert.rejects(op_tls_handshake(rid), errors.UnexpectedEof);
 * close(rid);
 * close(lrid);
 * ```
 */
export async function op_net_connect_tls(
  addr: { hostname: string; port: number },
  args: ConnectTlsArgs,
  keys: TlsKeys,
): Promise<[number, SocketAddress, SocketAddress]> {
  const port = validatePort(addr.port, 1);
  const host = validateHostname(String(addr.hostname));
  const settings = clientSettings(host, args, keys);
  args.signal?.throwIfAborted();
  const stream = await runtime().tls.connect(
    literalAddress(host) ?? host,
    port,
    settings,
    args.signal,
  );
  const rid = resourceTable.add(new TlsStreamResource(stream));
  return [rid, { ...stream.localAddr }, { ...stream.remoteAddr }];
}

/**
 * Options of `op_tls_start`: the TCP stream's rid and the client's settings.
 *
 * @example
 * ```ts
 * import type { StartTlsArgs } from "@reuseport/net/ops";
 *
 * const args: StartTlsArgs = { rid: 3, hostname: "localhost", caCerts: [] };
 * console.log(args.hostname);
 * ```
 */
export interface StartTlsArgs extends Omit<ConnectTlsArgs, "signal"> {
  /** The TCP stream to upgrade: its rid is taken over (closed for the old conn). */
  rid: number;
  /** The name the server's certificate must be valid for. */
  hostname: string;
}

/** Closes `stream` once no read or write is pending on it. */
function closeWhenIdle(stream: NativeStream): void {
  if (!stream.busy) {
    try {
      return stream.close();
    } catch {
      // Already gone with the runtime's own resource (Deno's `startTls`).
      return;
    }
  }
  setTimeout(() => closeWhenIdle(stream), IDLE_POLL_MS).unref?.();
}

/** How often a stream left busy by a failed `op_tls_start` is looked at. */
const IDLE_POLL_MS = 20;

/**
 * Starts TLS as a client on the TCP stream `args.rid`, which becomes the new
 * TLS stream's: the old rid is gone. `Busy` while a read or write is
 * pending on it, as Deno's op.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 * import { close, op_net_accept_tcp, op_net_connect_tcp, op_net_listen_tcp, op_tls_handshake, op_tls_key_null, op_tls_start, resourceTable } from "@reuseport/net/ops";
 *
 * const [lrid, addr] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * op_net_accept_tcp(lrid).then(([rid]) => close(rid));
 * const [tcp] = await op_net_connect_tcp(addr);
 * const [tls] = await op_tls_start({ rid: tcp, hostname: "localhost", caCerts: [] }, op_tls_key_null());
 * assert.equal(resourceTable.has(tcp), false); // taken over
 * await assert.rejects(op_tls_handshake(tls), errors.UnexpectedEof);
 * close(tls);
 * close(lrid);
 * ```
 */
export async function op_tls_start(
  args: StartTlsArgs,
  keys: TlsKeys,
): Promise<[number, SocketAddress, SocketAddress]> {
  const settings = clientSettings(String(args.hostname), args, keys);
  const tcp = resourceTable.get(args.rid, TcpStreamResource);
  if (tcp.stream.busy) {
    // As Deno's op: the rid is gone, and the stream with the last pending op.
    resourceTable.take(args.rid, TcpStreamResource);
    closeWhenIdle(tcp.stream);
    throw NetError.tcpStreamBusy();
  }
  let stream: TlsStream;
  try {
    stream = await runtime().tls.start(tcp.stream, settings);
  } catch (err) {
    // What Deno's own `startTls` refused (busy, on Deno) is gone there too.
    resourceTable.take(args.rid, TcpStreamResource);
    closeWhenIdle(tcp.stream);
    throw err;
  }
  resourceTable.take(args.rid, TcpStreamResource);
  const rid = resourceTable.add(new TlsStreamResource(stream));
  return [rid, { ...stream.localAddr }, { ...stream.remoteAddr }];
}

/**
 * Resolves once the TLS stream `rid` finished its handshake, with what it
 * agreed; rejects with the handshake's failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 * import { op_tls_handshake } from "@reuseport/net/ops";
 *
 * // Deno's op words a rid that is no TLS stream so.
 * await assert.rejects(op_tls_handshake(12345), errors.BadResource);
 * ```
 */
export function op_tls_handshake(rid: number): Promise<TlsHandshakeInfo> {
  const resource = resourceTable.find(rid);
  // Deno's op reports a closed stream so, too.
  if (!(resource instanceof TlsStreamResource)) {
    return Promise.reject(NetError.listenerClosed());
  }
  return resource.stream.handshake();
}
