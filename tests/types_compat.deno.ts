/**
 * Type compatibility with Deno's own declarations: `deno check` (part of
 * `npm test`) fails if code written against `Deno.*` types stops accepting
 * this package's objects. Not a runtime test: nothing here runs.
 */
import { connect, listen, listenDatagram, resolveDns } from "../mod.ts";
import type {
  ConnectOptions,
  NetAddr,
  ResolveDnsOptions,
  TcpListenOptions,
  UdpListenOptions,
} from "../mod.ts";

export async function denoShaped(): Promise<void> {
  const listenOptions: TcpListenOptions = {} as Deno.TcpListenOptions;
  const connectOptions: ConnectOptions = {} as Deno.ConnectOptions;
  const listener: Deno.TcpListener = listen(listenOptions);
  const conn: Deno.TcpConn = await connect(connectOptions);
  const addr: Deno.NetAddr = listener.addr;
  const back: NetAddr = conn.localAddr as NetAddr;
  const accepted: Deno.Conn = await listener.accept();
  for await (const c of listener) c.close();
  const unixListener: Deno.UnixListener = listen(
    {
      transport: "unix",
      path: "/tmp/s.sock",
    } as Deno.UnixListenOptions & { transport: "unix" },
  );
  const unixConn: Deno.UnixConn = await connect(
    {} as Deno.UnixConnectOptions,
  );
  const unixAddr: Deno.UnixAddr = unixConn.remoteAddr;
  const acceptedUnix: Deno.UnixConn = await unixListener.accept();
  void [addr, back, accepted, unixAddr, acceptedUnix];
}

export async function denoShapedDns(): Promise<void> {
  const resolve: typeof Deno.resolveDns = resolveDns;
  const options: ResolveDnsOptions = {} as Deno.ResolveDnsOptions;
  const mx: Deno.MxRecord[] = await resolveDns("a.test", "MX", options);
  const txt: string[][] = await resolveDns("a.test", "TXT");
  void [resolve, mx, txt];
}

export async function udpShaped(): Promise<void> {
  const options: UdpListenOptions = {
    ...({} as Deno.UdpListenOptions),
    transport: "udp",
  };
  const conn: Deno.DatagramConn = listenDatagram(options);
  const [data, from]: [Uint8Array<ArrayBuffer>, Deno.Addr] = await conn
    .receive();
  const v4: Deno.MulticastV4Membership = await conn.joinMulticastV4("", "");
  const v6: Deno.MulticastV6Membership = await conn.joinMulticastV6("", 0);
  for await (const [d, a] of conn) void [d, a];
  void [data, from, v4, v6];
}
