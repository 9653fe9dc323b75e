/**
 * The global `Deno` that `import "@reuseport/net/polyfill"` provides, typed
 * for tsc on Node: the npm build ships this file next to `polyfill.d.ts` and
 * references it from there. Deno has its own `Deno` types, and JSR allows no
 * global augmentation, so nothing on the Deno side imports this file.
 */
import type * as net from "./mod.ts";

declare global {
  /** Deno's TCP API, from `@reuseport/net/polyfill`. */
  namespace Deno {
    /** `Deno.listen`: see `listen` in `@reuseport/net`. */
    const listen: typeof net.listen;
    /** `Deno.connect`: see `connect` in `@reuseport/net`. */
    const connect: typeof net.connect;
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
    /** `Deno.ConnectOptions`. */
    type ConnectOptions = net.ConnectOptions;
  }
}
