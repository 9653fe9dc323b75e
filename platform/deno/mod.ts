/**
 * The Deno runtime: Deno's own `Deno.listen` / `Deno.connect`, with their
 * errors turned into this package's classes.
 *
 * @module
 */
import { isMainThread } from "node:worker_threads";
import { isNativeDeno } from "../../core/detect.ts";
import * as errors from "../../core/errors.ts";
import { loadTcpWrap } from "../libuv/binding.ts";
import { bindTcp, HandleListener, RawAcceptor } from "../libuv/listener.ts";
import { HandleStream } from "../libuv/stream.ts";
import { dgramUdp } from "../dgram.ts";
import { type DenoListenDatagram, denoUdp } from "./_udp.ts";
import { resolveByBinding } from "../resolve.ts";
import type {
  BindRequest,
  DnsQuestion,
  DnsRecord,
  NativeListener,
  NativeStream,
  NativeUnixDatagram,
  Runtime,
  SocketAddress,
  UnixAddress,
  UnixSockets,
} from "../types.ts";

/** An address as Deno reports it: TCP's or a Unix socket's. */
type DenoAddr = SocketAddress & UnixAddress;

/** The few members of Deno's namespace used here, typed locally so the npm build needs no Deno types. */
interface DenoConn {
  readonly localAddr: DenoAddr;
  readonly remoteAddr: DenoAddr;
  read(buf: Uint8Array): Promise<number | null>;
  write(buf: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay(on: boolean): void;
  setKeepAlive(on: boolean): void;
  ref(): void;
  unref(): void;
}

interface DenoListener {
  readonly addr: DenoAddr;
  accept(): Promise<DenoConn>;
  close(): void;
  ref(): void;
  unref(): void;
}

/** Deno's `DatagramConn` of a Unix datagram socket. */
interface DenoDatagramConn {
  readonly addr: DenoAddr;
  send(
    buf: Uint8Array,
    addr: { transport: "unixpacket"; path: string },
  ): Promise<number>;
  receive(buf: Uint8Array): Promise<[Uint8Array, DenoAddr]>;
  close(): void;
}

interface DenoNamespace {
  listen(
    options:
      | { hostname: string; port: number; tcpBacklog?: number }
      | { transport: "unix"; path: string },
  ): DenoListener;
  connect(
    options:
      | { hostname: string; port: number; signal?: AbortSignal }
      | { transport: "unix"; path: string },
  ): Promise<DenoConn>;
  resolveDns(
    query: string,
    recordType: string,
    options?: {
      nameServer?: { ipAddr: string; port: number };
      signal?: AbortSignal;
    },
  ): Promise<DnsRecord[]>;
  /** Only with `--unstable-net`: UDP, and Unix datagrams. */
  listenDatagram?:
    & DenoListenDatagram
    & ((
      options: { transport: "unixpacket"; path: string },
    ) => DenoDatagramConn);
  errors: Record<string, new (...args: never[]) => Error>;
  build: { os: string };
  version: { deno: string };
  env: { get(name: string): string | undefined };
  permissions: {
    querySync(desc: { name: "env"; variable: string }): { state: string };
  };
}

/**
 * Deno's own `listen`, `connect` and `errors`, taken as this module loads,
 * when this runtime is Deno. A global `Deno` alone proves nothing: a shim
 * (`@deno/shim-deno`, this package's polyfill) puts one on Node, and on Deno
 * the polyfill with `override` replaces `Deno.listen` with ours, which must
 * not end up calling itself.
 */
const native: DenoNamespace | undefined = nativeDeno();

function nativeDeno(): DenoNamespace | undefined {
  if (!isNativeDeno()) return undefined;
  const deno = (globalThis as unknown as { Deno: DenoNamespace }).Deno;
  return {
    listen: deno.listen.bind(deno),
    connect: deno.connect.bind(deno),
    resolveDns: deno.resolveDns.bind(deno),
    listenDatagram: typeof deno.listenDatagram === "function"
      ? deno.listenDatagram.bind(deno)
      : undefined,
    errors: { ...deno.errors },
    build: deno.build,
    version: deno.version,
    env: deno.env,
    permissions: deno.permissions,
  };
}

/** Deno's own TCP functions and error classes, when this runtime is Deno. */
export function denoNamespace(): DenoNamespace | undefined {
  return native;
}

const ourErrors = errors as unknown as Record<
  string,
  new (message: string) => Error
>;

/** Makes an error of Deno's own classes one of ours too (ours derive from Deno's): the same object, stack and cause kept. */
function translate(err: unknown): Error {
  const name = (err as Error)?.name;
  const DenoClass = denoNamespace()?.errors[name];
  if (DenoClass && err instanceof DenoClass && ourErrors[name]) {
    // Ours derive from Deno's: the same error, now also one of ours, keeps
    // its stack and cause.
    Object.setPrototypeOf(err, ourErrors[name].prototype);
  }
  return err as Error;
}

/** Deno's read count as `NativeStream#read` reports it: 0 at the end. */
function zeroAtEnd(n: number | null): number {
  return n ?? 0;
}

function rethrow(err: unknown): never {
  throw translate(err);
}

/** TCP's address out of Deno's. */
function tcpAddr(addr: DenoAddr): SocketAddress {
  return { hostname: addr.hostname, port: addr.port };
}

/** A Unix socket's address out of Deno's. */
function unixAddr(addr: DenoAddr): UnixAddress {
  return { path: addr.path };
}

class DenoStream<A = SocketAddress> implements NativeStream<A> {
  readonly localAddr: A;
  readonly remoteAddr: A;
  #conn: DenoConn;

  /** `address` turns Deno's addresses into the transport's. */
  constructor(conn: DenoConn, address: (addr: DenoAddr) => A) {
    this.#conn = conn;
    this.localAddr = address(conn.localAddr);
    this.remoteAddr = address(conn.remoteAddr);
  }

  read(buf: Uint8Array): Promise<number> {
    return this.#conn.read(buf).then(zeroAtEnd, rethrow);
  }

  write(buf: Uint8Array): Promise<number> {
    // Deno's write may take part of the buffer; ours writes all of it. The
    // first write usually takes everything: no async frame or view for it.
    try {
      return this.#conn.write(buf).then(
        (n) => n < buf.byteLength ? this.#writeRest(buf, n) : n,
        rethrow,
      );
    } catch (err) {
      return Promise.reject(translate(err));
    }
  }

  async #writeRest(buf: Uint8Array, n: number): Promise<number> {
    try {
      while (n < buf.byteLength) n += await this.#conn.write(buf.subarray(n));
      return n;
    } catch (err) {
      rethrow(err);
    }
  }

  shutdown(): Promise<void> {
    return this.#conn.closeWrite().catch(rethrow);
  }

  close(): void {
    try {
      this.#conn.close();
    } catch (err) {
      rethrow(err);
    }
  }

  setNoDelay(on: boolean): void {
    this.#conn.setNoDelay(on);
  }

  setKeepAlive(on: boolean): void {
    this.#conn.setKeepAlive(on);
  }

  setReadRef(ref: boolean): void {
    if (ref) this.#conn.ref();
    else this.#conn.unref();
  }
}

class DenoListenerAdapter<A = SocketAddress> implements NativeListener<A> {
  readonly addr: A;
  #listener: DenoListener;
  #address: (addr: DenoAddr) => A;

  /** `address` turns Deno's addresses into the transport's. */
  constructor(listener: DenoListener, address: (addr: DenoAddr) => A) {
    this.#listener = listener;
    this.#address = address;
    this.addr = address(listener.addr);
  }

  accept(): Promise<NativeStream<A>> {
    return this.#listener.accept().then(
      (conn) => new DenoStream(conn, this.#address),
      rethrow,
    );
  }

  setRef(ref: boolean): void {
    if (ref) this.#listener.ref();
    else this.#listener.unref();
  }

  close(): void {
    try {
      this.#listener.close();
    } catch {
      // Closing twice is the caller's no-op here; the resource table reports it.
    }
  }
}

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

/** Whether this is a worker: a Web Worker, or a `node:worker_threads` one. */
function inWorker(): boolean {
  const scope = (globalThis as { WorkerGlobalScope?: unknown })
    .WorkerGlobalScope;
  return !isMainThread ||
    (typeof scope === "function" && globalThis instanceof scope);
}

/** Why a worker's listener could not join another thread's socket on Deno. */
function workersCannotShare(): string {
  return "another listener holds this address, and if it is in another worker thread of this process, " +
    "Deno cannot share one socket between workers (its public API has no loadBalanced across them). " +
    "On Linux, reusePort without loadBalanced gives each worker a socket of its own (the kernel strategy); or use deno serve --parallel";
}

/** Deno, through its own TCP ops. */
export const denoRuntime: Runtime = {
  name: "deno",
  nativeDenoApi: true,
  // Deno's own where --unstable-net gives it (several times faster, and
  // Deno's behaviour); else Deno's Node layer, which needs no flag.
  udp: native?.listenDatagram
    ? denoUdp(native.listenDatagram, translate)
    : dgramUdp(() => `Deno ${native?.version.deno}`),

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
      );
    } catch (err) {
      const ours = translate(err);
      if (shared && inWorker() && ours instanceof errors.AddrInUse) {
        throw new errors.AddrInUse(`${ours.message}: ${workersCannotShare()}`);
      }
      throw ours;
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
};
