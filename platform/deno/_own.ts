/**
 * Deno's own TCP objects as they are (`Runtime.own`): `Deno.listen`'s
 * listener and Deno's `TcpConn`s, for the listens that need no emulation,
 * so that a program gets what it would get from Deno itself, at Deno's
 * cost, and Deno's functions that take a conn (`startTls`) take them.
 *
 * @module
 */
import type {
  BindRequest,
  OwnKind,
  OwnTcp,
  TlsClientSettings,
  TlsServerSettings,
  UdpBindRequest,
} from "../types.ts";
import { type DenoConn, denoNamespace, rethrow } from "./_native.ts";
import { internalRidSymbol } from "./_stream.ts";
import { connectOptions } from "./tls.ts";
import { bindError } from "./_workers.ts";
import { bindDenoUdp, type DenoListenDatagram } from "./_udp.ts";

/** The class names along a prototype's chain, for each prototype seen. */
const chains = new Map<object, string[]>();

/** The names of the classes `value` is an instance of, nearest first. */
function classNames(value: object): string[] {
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto === null) return [];
  let names = chains.get(proto);
  if (!names) {
    names = [];
    for (let p: object | null = proto; p; p = Object.getPrototypeOf(p)) {
      if (Object.hasOwn(p, "constructor")) {
        names.push((p as { constructor: { name: string } }).constructor.name);
      }
    }
    chains.set(proto, names);
  }
  return names;
}

/** The class each kind names in Deno's `ext/net` (`01_net.js`, `02_tls.js`). */
const CLASS: Record<OwnKind, string> = {
  conn: "Conn",
  tcpConn: "TcpConn",
  tlsConn: "TlsConn",
  unixConn: "UnixConn",
  listener: "Listener",
  datagramConn: "DatagramConn",
};

/**
 * The prototype of Deno's `DatagramConn`, known once one was handed out:
 * Deno's keeps its rid private (no internal symbol to tell it by), and its
 * class is not on the namespace.
 */
let datagramPrototype: object | undefined;

/**
 * Whether `value` is one of Deno's own objects of `kind`: Deno's classes
 * are not on its namespace, but each of its conns and listeners carries its
 * rid under Deno's internal symbol, which nothing else has.
 */
function is(kind: OwnKind, value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (kind === "datagramConn") {
    return datagramPrototype !== undefined &&
      Object.prototype.isPrototypeOf.call(datagramPrototype, value);
  }
  const symbol = internalRidSymbol(value);
  return symbol !== undefined && Object.hasOwn(value, symbol) &&
    classNames(value).includes(CLASS[kind]);
}

/**
 * Whether Deno's own listen can bind with `SO_REUSEPORT`: only with
 * `--unstable-net` (without it, `Deno.listen({ reusePort })` exits the
 * process), which is also what gives Deno its `listenDatagram`.
 */
function ownReusePort(): boolean {
  return typeof denoNamespace()?.listenDatagram === "function";
}

/** Deno's own TCP, handed out as it is. */
export const denoOwn: OwnTcp = {
  listen(request: BindRequest): object | undefined {
    if (request.shared || (request.reusePort && !ownReusePort())) {
      return undefined;
    }
    const { hostname, port, backlog, reusePort } = request;
    try {
      return denoNamespace()!.listen({
        hostname,
        port,
        tcpBacklog: backlog,
        ...(reusePort ? { reusePort } : {}),
      });
    } catch (err) {
      throw bindError(err, false);
    }
  },

  connect(
    hostname: string,
    port: number,
    signal?: AbortSignal,
  ): Promise<object> {
    return denoNamespace()!.connect({ hostname, port, signal }).catch(rethrow);
  },

  is,

  listenTls(
    request: BindRequest,
    settings: TlsServerSettings,
  ): object | undefined {
    // Deno's listenTls has no reusePort without the flag either, and with
    // it the kernel strategy's TLS goes through its Node layer (tls.ts).
    if (request.shared || request.reusePort) return undefined;
    const { cert, key, alpnProtocols } = settings;
    try {
      return denoNamespace()!.listenTls({
        hostname: request.hostname,
        port: request.port,
        cert,
        key,
        alpnProtocols,
        tcpBacklog: request.backlog,
      });
    } catch (err) {
      throw bindError(err, false);
    }
  },

  connectTls(
    port: number,
    settings: TlsClientSettings,
    signal?: AbortSignal,
  ): Promise<object> {
    signal?.throwIfAborted();
    // The name to verify is the one to connect to, as in tls.ts.
    return denoNamespace()!.connectTls({
      ...connectOptions(settings),
      port,
      cert: settings.cert,
      key: settings.key,
    }).catch(rethrow);
  },

  listenUnix(path: string): object {
    try {
      return denoNamespace()!.listen({ transport: "unix", path });
    } catch (err) {
      throw bindError(err, false);
    }
  },

  connectUnix(path: string): Promise<object> {
    return denoNamespace()!.connect({ transport: "unix", path }).catch(
      rethrow,
    );
  },

  listenDatagram(request: UdpBindRequest): object | undefined {
    // Without --unstable-net Deno has none: ours, on its node:dgram.
    const listenDatagram = denoNamespace()?.listenDatagram;
    if (!listenDatagram || request.shared || request.reusePort) {
      return undefined;
    }
    const conn = bindDenoUdp(
      listenDatagram as DenoListenDatagram,
      request,
      (err) => bindError(err, false),
    );
    datagramPrototype ??= Object.getPrototypeOf(conn) as object;
    return conn;
  },

  startTls(conn: object, settings: TlsClientSettings): Promise<object> {
    return denoNamespace()!.startTls(
      conn as DenoConn,
      connectOptions(settings),
    ).catch(rethrow);
  },
};
