/**
 * The global `Deno` that `import "@reuseport/net/polyfill"` provides, typed
 * for tsc on Node: the npm build ships this file next to `polyfill.d.ts` and
 * references it from there. Deno has its own `Deno` types, and JSR allows no
 * global augmentation, so nothing on the Deno side imports this file.
 */
import type * as net from "./mod.ts";

declare global {
  /** Deno's TCP and Unix socket API, from `@reuseport/net/polyfill`. */
  namespace Deno {
    /** `Deno.listen`: see `listen` in `@reuseport/net`. */
    const listen: typeof net.listen;
    /** `Deno.connect`: see `connect` in `@reuseport/net`. */
    const connect: typeof net.connect;
    /** `Deno.resolveDns`: see `resolveDns` in `@reuseport/net`. */
    const resolveDns: typeof net.resolveDns;
    /** `Deno.listenDatagram` (UDP): see `listenDatagram` in `@reuseport/net`. */
    const listenDatagram: typeof net.listenDatagram;
    /** `Deno.listenTls`: see `listenTls` in `@reuseport/net`. */
    const listenTls: typeof net.listenTls;
    /** `Deno.connectTls`: see `connectTls` in `@reuseport/net`. */
    const connectTls: typeof net.connectTls;
    /** `Deno.startTls`: see `startTls` in `@reuseport/net`. */
    const startTls: typeof net.startTls;
    /** `Deno.errors`: Deno's error classes. */
    const errors: typeof net.errors;
    /** `Deno.Listener`. */
    type Listener = net.Listener;
    /** `Deno.TcpListener`. */
    type TcpListener = net.TcpListener;
    /** `Deno.Conn`. */
    type Conn = net.Conn;
    /** `Deno.TcpConn`. */
    type TcpConn = net.TcpConn;
    type TlsConn = net.TlsConn;
    type TlsListener = net.TlsListener;
    type TlsHandshakeInfo = net.TlsHandshakeInfo;
    type ListenTlsOptions = net.ListenTlsOptions;
    type ConnectTlsOptions = net.ConnectTlsOptions;
    type StartTlsOptions = net.StartTlsOptions;
    /** `Deno.NetAddr`. */
    type NetAddr = net.NetAddr;
    /** `Deno.ListenOptions`, as far as TCP goes. */
    type ListenOptions = net.TcpListenOptions;
    /** `Deno.TcpListenOptions`. */
    type TcpListenOptions = net.TcpListenOptions;
    /** `Deno.DatagramConn`. */
    type DatagramConn = net.DatagramConn;
    /** `Deno.UdpListenOptions`. */
    type UdpListenOptions = net.UdpListenOptions;
    /** `Deno.MulticastV4Membership`. */
    type MulticastV4Membership = net.MulticastV4Membership;
    /** `Deno.MulticastV6Membership`. */
    type MulticastV6Membership = net.MulticastV6Membership;
    /** `Deno.ConnectOptions`. */
    type ConnectOptions = net.ConnectOptions;
    /** `Deno.RecordType`. */
    type RecordType = net.RecordType;
    /** `Deno.ResolveDnsOptions`. */
    type ResolveDnsOptions = net.ResolveDnsOptions;
    /** `Deno.CaaRecord`. */
    type CaaRecord = net.CaaRecord;
    /** `Deno.MxRecord`. */
    type MxRecord = net.MxRecord;
    /** `Deno.NaptrRecord`. */
    type NaptrRecord = net.NaptrRecord;
    /** `Deno.SoaRecord`. */
    type SoaRecord = net.SoaRecord;
    /** `Deno.SrvRecord`. */
    type SrvRecord = net.SrvRecord;
    /** `Deno.UnixListener`. */
    type UnixListener = net.UnixListener;
    /** `Deno.UnixConn`. */
    type UnixConn = net.UnixConn;
    /** `Deno.UnixAddr`. */
    type UnixAddr = net.UnixAddr;
    /** `Deno.UnixListenOptions`. */
    type UnixListenOptions = net.UnixListenOptions;
    /** `Deno.UnixConnectOptions`. */
    type UnixConnectOptions = net.UnixConnectOptions;
  }
}
