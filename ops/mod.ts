/**
 * Deno's ops (TCP, TLS, Unix sockets, UDP, DNS) over a resource table, for
 * code that wants Deno's op layer itself: integer rids, `op_net_*` functions,
 * and core-style `read` / `write` / `close`. Most programs want the classes in
 * the package root instead.
 *
 * @example Echo one message
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_accept_tcp, op_net_connect_tcp, op_net_listen_tcp, read, write } from "@reuseport/net/ops";
 *
 * const [lrid, addr] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * const accepted = op_net_accept_tcp(lrid);
 * const [crid] = await op_net_connect_tcp(addr);
 * const [srid] = await accepted;
 * await write(crid, new TextEncoder().encode("ping"));
 * const buf = new Uint8Array(4);
 * await read(srid, buf);
 * assert(new TextDecoder().decode(buf) === "ping");
 * for (const rid of [crid, srid, lrid]) close(rid);
 * ```
 *
 * @module
 */
export {
  type ConnectTcpOptions,
  op_net_accept_tcp,
  op_net_connect_tcp,
  op_net_listen_tcp,
  op_set_keepalive,
  op_set_nodelay,
  type SocketAddress,
} from "./ops.ts";
export {
  type DnsRecord,
  op_cancel_handle,
  op_dns_resolve,
  type ResolveAddrArgs,
} from "./ops_dns.ts";
export {
  type ConnectTlsArgs,
  type ListenTlsArgs,
  op_net_accept_tls,
  op_net_connect_tls,
  op_net_listen_tls,
  op_tls_handshake,
  op_tls_key_null,
  op_tls_key_static,
  op_tls_start,
  type StartTlsArgs,
  type TlsHandshakeInfo,
  type TlsKeys,
} from "./ops_tls.ts";
export { read, shutdown, write } from "./io.ts";
export {
  datagramStats,
  op_net_join_multi_v4_udp,
  op_net_join_multi_v6_udp,
  op_net_leave_multi_v4_udp,
  op_net_leave_multi_v6_udp,
  op_net_listen_udp,
  op_net_recv_udp,
  op_net_send_udp,
  op_net_set_multi_loopback_udp,
  op_net_set_multi_ttl_udp,
  recvUdp,
  recvUdpInto,
  udpStrategyFor,
} from "./ops_udp.ts";
export {
  close,
  type Resource,
  resources,
  ResourceTable,
  resourceTable,
  setRef,
  tryClose,
} from "./resources.ts";
export { Connections, connections } from "./tcp.ts";
export {
  op_net_accept_unix,
  op_net_connect_unix,
  op_net_listen_unix,
  op_net_listen_unixpacket,
  op_net_recv_unixpacket,
  op_net_send_unixpacket,
} from "./ops_unix.ts";
