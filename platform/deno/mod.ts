/**
 * The Deno runtime: Deno's own `Deno.listen` / `Deno.connect`, with their
 * errors turned into this package's classes.
 *
 * @module
 */
import { loadTcpWrap } from "../libuv/binding.ts";
import { bindTcp, HandleListener, RawAcceptor } from "../libuv/listener.ts";
import { HandleStream } from "../libuv/stream.ts";
import { dgramUdp } from "../dgram.ts";
import { resolveByBinding } from "../resolve.ts";
import type {
  BindRequest,
  DnsQuestion,
  DnsRecord,
  NativeListener,
  NativeStream,
  NativeUnixDatagram,
  Runtime,
  UnixAddress,
  UnixSockets,
} from "../types.ts";
import {
  type DenoDatagramConn,
  denoNamespace,
  rethrow,
  translate,
} from "./_native.ts";
import {
  DenoListenerAdapter,
  DenoStream,
  tcpAddr,
  unixAddr,
} from "./_stream.ts";
import { denoUdp } from "./_udp.ts";
import { bindError, workerUdp } from "./_workers.ts";
import { denoTls } from "./tls.ts";
import { denoOwn } from "./_own.ts";

/** Deno's Unix datagram socket, as a `NativeUnixDatagram`. */
class DenoUnixDatagram implements NativeUnixDatagram {
  readonly addr: UnixAddress;
  #conn: DenoDatagramConn;

  constructor(conn: DenoDatagramConn) {
    this.#conn = conn;
    this.addr = unixAddr(conn.addr);
  }

  send(buf: Uint8Array, path: string): Promise<number> {
    return this.#conn.send(buf, { transport: "unixpacket", path }).catch(
      rethrow,
    );
  }

  receive(buf: Uint8Array): Promise<[number, string | null]> {
    return this.#conn.receive(buf).then(
      ([data, from]) => [data.byteLength, from.path],
      rethrow,
    );
  }

  close(): void {
    try {
      this.#conn.close();
    } catch (err) {
      rethrow(err);
    }
  }
}

/** Deno's own Unix sockets; datagrams only where `--unstable-net` gave Deno them. */
const unix: UnixSockets = {
  listen(path: string, _backlog: number): NativeListener<UnixAddress> {
    // Deno's Unix listener takes no backlog.
    try {
      return new DenoListenerAdapter(
        denoNamespace()!.listen({ transport: "unix", path }),
        unixAddr,
        (conn) => new DenoStream(conn, unixAddr),
      );
    } catch (err) {
      rethrow(err);
    }
  },
  connect(path: string): Promise<NativeStream<UnixAddress>> {
    return denoNamespace()!.connect({ transport: "unix", path }).then(
      (conn) => new DenoStream(conn, unixAddr),
      rethrow,
    );
  },
  get listenDatagram(): ((path: string) => NativeUnixDatagram) | undefined {
    const listenDatagram = denoNamespace()?.listenDatagram;
    if (!listenDatagram) return undefined;
    return (path) => {
      try {
        return new DenoUnixDatagram(
          listenDatagram({ transport: "unixpacket", path }),
        );
      } catch (err) {
        rethrow(err);
      }
    };
  },
  get datagramReason(): string {
    return denoNamespace()?.listenDatagram
      ? "Deno has Unix datagram sockets"
      : "Deno has Unix datagram sockets only with --unstable-net (Deno.listenDatagram is absent without it)";
  },
};

/** Deno, through its own TCP ops. */
export const denoRuntime: Runtime = {
  name: "deno",
  nativeDenoApi: true,
  // Deno's own where --unstable-net gives it (several times faster, and
  // Deno's behaviour); else Deno's Node layer, which needs no flag.
  udp: workerUdp(
    denoNamespace()?.listenDatagram
      ? denoUdp(denoNamespace()!.listenDatagram!, translate)
      : dgramUdp(() => `Deno ${denoNamespace()?.version.deno}`),
  ),

  preloadArgs(module: URL, _thread: boolean): string[] {
    // What Deno's `fork()` passes when given nothing, and the preload.
    return ["run", "-A", "--preload", module.href];
  },
  kernelSupport(): { supported: boolean; reason: string } {
    const deno = denoNamespace()!;
    const where = `Deno ${deno.version.deno} on ${deno.build.os}`;
    if (deno.build.os !== "linux" && deno.build.os !== "android") {
      return {
        supported: false,
        reason: `${where}: SO_REUSEPORT does not balance connections there`,
      };
    }
    if (typeof deno.listenDatagram === "function") {
      // `--unstable-net` (which is what gives Deno `listenDatagram`): Deno's
      // own listen binds so, and its listener is handed out as it is.
      return {
        supported: true,
        reason:
          `${where} binds with SO_REUSEPORT itself (Deno.listen({ reusePort }), with --unstable-net)`,
      };
    }
    if (typeof loadTcpWrap().TCP.prototype.bindWithFlags !== "function") {
      return {
        supported: false,
        reason:
          `${where} has no way to bind with SO_REUSEPORT without --unstable-net`,
      };
    }
    return {
      supported: true,
      reason:
        `${where} binds with SO_REUSEPORT through its Node layer (Deno.listen({ reusePort }) would exit the process without --unstable-net)`,
    };
  },

  env(name: string): string | undefined {
    const deno = denoNamespace()!;
    // Asking without permission would prompt or throw; unset is the answer.
    const state = deno.permissions.querySync({ name: "env", variable: name })
      .state;
    return state === "granted" ? deno.env.get(name) : undefined;
  },

  listen(request: BindRequest): NativeListener {
    const { hostname, port, backlog, shared } = request;
    if (request.reusePort) {
      // The kernel strategy: Deno's own Node layer binds with SO_REUSEPORT
      // without `--unstable-net` and without any chance of exiting.
      try {
        const { handle, addr } = bindTcp(request);
        return new HandleListener(
          new RawAcceptor(handle, addr),
          (raw, localAddr) => new HandleStream(raw, localAddr),
        );
      } catch (err) {
        // That layer reports some failed binds as EINVAL (a non-local
        // address, say); Deno's own bind names the error as Deno would.
        if (/\(os error 22\)$/.test((err as Error).message)) {
          try {
            denoNamespace()!.listen({ hostname, port }).close();
          } catch (denos) {
            rethrow(denos);
          }
        }
        throw err;
      }
    }
    try {
      return new DenoListenerAdapter(
        denoNamespace()!.listen({ hostname, port, tcpBacklog: backlog }),
        tcpAddr,
        (conn) => new DenoStream(conn, tcpAddr),
      );
    } catch (err) {
      throw bindError(err, Boolean(shared));
    }
  },

  resolveListenHost(hostname: string): string {
    return resolveByBinding((r) => this.listen(r), hostname);
  },

  resolveDns(question: DnsQuestion): Promise<DnsRecord[]> {
    const { query, recordType, nameServer, signal } = question;
    return denoNamespace()!.resolveDns(query, recordType, {
      nameServer,
      signal,
    }).catch(rethrow);
  },

  connect(
    hostname: string,
    port: number,
    signal?: AbortSignal,
  ): Promise<NativeStream> {
    return denoNamespace()!.connect({ hostname, port, signal }).then(
      (conn) => new DenoStream(conn, tcpAddr),
      rethrow,
    );
  },

  unix,
  tls: denoTls,
  own: denoOwn,
};
