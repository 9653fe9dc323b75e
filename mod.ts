/**
 * Deno's networking API — `listen`, `connect` (TCP and Unix sockets),
 * `listenTls`, `connectTls`, `startTls`, `listenDatagram` (UDP),
 * `resolveDns`, `Listener`, `TcpConn`, `TlsConn`, `UnixConn`,
 * `DatagramConn`, `errors` — with
 * Deno's behaviour on Deno and on Node, and `reusePort` load balancing on
 * every OS.
 *
 * @example A TCP echo server
 * ```ts
 * import { connect, listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * (async () => {
 *   for await (const conn of listener) conn.readable.pipeTo(conn.writable);
 * })();
 *
 * const client = await connect({ port: listener.addr.port });
 * await client.write(new TextEncoder().encode("ping"));
 * const buf = new Uint8Array(4);
 * await client.read(buf);
 * console.log(new TextDecoder().decode(buf)); // "ping"
 * client.close();
 * listener.close();
 * ```
 *
 * @module
 */
export type { NetAddr, UnixAddr } from "./net/addr.ts";
export { Conn } from "./net/conn.ts";
export {
  type CaaRecord,
  type MxRecord,
  type NaptrRecord,
  type RecordType,
  resolveDns,
  type ResolveDnsOptions,
  type SoaRecord,
  type SrvRecord,
} from "./net/dns.ts";
export { Listener } from "./net/listener.ts";
export { connect, listen } from "./net/mod.ts";
export {
  type ConnectOptions,
  TcpConn,
  type TcpListener,
  type TcpListenOptions,
} from "./net/tcp.ts";
export {
  listenDatagramUnix,
  UnixConn,
  type UnixConnectOptions,
  UnixDatagramConn,
  type UnixDatagramOptions,
  type UnixListener,
  type UnixListenOptions,
} from "./net/unix.ts";
export {
  DatagramConn,
  listenDatagram,
  type MulticastV4Membership,
  type MulticastV6Membership,
  type UdpAddr,
  type UdpListenOptions,
} from "./net/udp.ts";
export {
  connectTls,
  type ConnectTlsOptions,
  listenTls,
  type ListenTlsOptions,
  startTls,
  type StartTlsOptions,
  type TlsCertifiedKeyPem,
  TlsConn,
  type TlsHandshakeInfo,
  type TlsListener,
} from "./net/tls.ts";
export {
  type ParallelEvent,
  type ParallelMode,
  type ParallelOptions,
  type ParallelReplacement,
  type ParallelServer,
  serveParallel,
} from "./parallel.ts";
export {
  setStrategy,
  type Strategy,
  type StrategyChoice,
  strategyFor,
  type StrategySetting,
} from "./ops/strategy.ts";
export * as errors from "./errors.ts";
