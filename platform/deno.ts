/**
 * The Deno runtime: Deno's own `Deno.listen` / `Deno.connect`, with their
 * errors turned into this package's classes.
 *
 * @module
 */
import { isMainThread } from "node:worker_threads";
import * as errors from "../errors.ts";
import type {
  BindRequest,
  NativeListener,
  NativeStream,
  Runtime,
  SocketAddress,
} from "./types.ts";

/** The few members of Deno's namespace used here, typed locally so the npm build needs no Deno types. */
interface DenoConn {
  readonly localAddr: SocketAddress;
  readonly remoteAddr: SocketAddress;
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
  readonly addr: SocketAddress;
  accept(): Promise<DenoConn>;
  close(): void;
  ref(): void;
  unref(): void;
}

interface DenoNamespace {
  listen(
    options: { hostname: string; port: number; reusePort?: boolean },
  ): DenoListener;
  connect(
    options: { hostname: string; port: number; signal?: AbortSignal },
  ): Promise<DenoConn>;
  errors: Record<string, new (...args: never[]) => Error>;
  build: { os: string };
  version: { deno: string };
  /** Present only with `--unstable-net`: our feature test for that flag. */
  listenDatagram?: unknown;
  env: { get(name: string): string | undefined };
  permissions: {
    querySync(desc: { name: "env"; variable: string }): { state: string };
  };
}

/** The global `Deno`, when this runtime is Deno. */
export function denoNamespace(): DenoNamespace | undefined {
  const deno = (globalThis as { Deno?: Partial<DenoNamespace> }).Deno;
  return typeof deno?.listen === "function" &&
      typeof deno.connect === "function" && deno.errors
    ? deno as DenoNamespace
    : undefined;
}

const ourErrors = errors as unknown as Record<
  string,
  new (message: string) => Error
>;

/** Re-throws Deno's own error classes as ours, keeping name and message. */
function translate(err: unknown): Error {
  const name = (err as Error)?.name;
  const DenoClass = denoNamespace()?.errors[name];
  if (DenoClass && err instanceof DenoClass && ourErrors[name]) {
    return new ourErrors[name]((err as Error).message);
  }
  return err as Error;
}

function rethrow(err: unknown): never {
  throw translate(err);
}

class DenoStream implements NativeStream {
  readonly localAddr: SocketAddress;
  readonly remoteAddr: SocketAddress;
  #conn: DenoConn;

  constructor(conn: DenoConn) {
    this.#conn = conn;
    this.localAddr = {
      hostname: conn.localAddr.hostname,
      port: conn.localAddr.port,
    };
    this.remoteAddr = {
      hostname: conn.remoteAddr.hostname,
      port: conn.remoteAddr.port,
    };
  }

  read(buf: Uint8Array): Promise<number> {
    return this.#conn.read(buf).then((n) => n ?? 0, rethrow);
  }

  async write(buf: Uint8Array): Promise<number> {
    try {
      let n = 0;
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

class DenoListenerAdapter implements NativeListener {
  readonly addr: SocketAddress;
  #listener: DenoListener;

  constructor(listener: DenoListener) {
    this.#listener = listener;
    this.addr = { hostname: listener.addr.hostname, port: listener.addr.port };
  }

  accept(): Promise<NativeStream> {
    return this.#listener.accept().then(
      (conn) => new DenoStream(conn),
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

/** Whether this is a worker: a Web Worker, or a `node:worker_threads` one. */
function inWorker(): boolean {
  const scope = (globalThis as { WorkerGlobalScope?: unknown })
    .WorkerGlobalScope;
  return !isMainThread ||
    (typeof scope === "function" && globalThis instanceof scope);
}

/** Why a worker's listener could not join another thread's socket on Deno. */
function workersCannotShare(): string {
  return "another listener holds this address, and if it is in another thread of this process, " +
    "Deno's worker threads cannot share its socket here. Use `deno serve --parallel`, " +
    "or the kernel strategy (reusePort with --unstable-net on Linux)";
}

/** Deno, through its own TCP ops. */
export const denoRuntime: Runtime = {
  name: "deno",

  kernelSupport(): { supported: boolean; reason: string } {
    const deno = denoNamespace()!;
    const where = `Deno ${deno.version.deno} on ${deno.build.os}`;
    // Without `--unstable-net`, `Deno.listen({ reusePort })` exits the
    // process, so the flag is tested for (by an API it enables) first.
    if (typeof deno.listenDatagram !== "function") {
      return {
        supported: false,
        reason:
          `${where} binds with SO_REUSEPORT only under --unstable-net (without it Deno exits the process)`,
      };
    }
    if (deno.build.os !== "linux" && deno.build.os !== "android") {
      return {
        supported: false,
        reason: `${where}: Deno ignores reusePort there`,
      };
    }
    return {
      supported: true,
      reason: `${where} with --unstable-net binds with SO_REUSEPORT`,
    };
  },

  env(name: string): string | undefined {
    const deno = denoNamespace()!;
    // Asking without permission would prompt or throw; unset is the answer.
    const state = deno.permissions.querySync({ name: "env", variable: name })
      .state;
    return state === "granted" ? deno.env.get(name) : undefined;
  },

  listen({ hostname, port, reusePort, shared }: BindRequest): NativeListener {
    try {
      return new DenoListenerAdapter(
        denoNamespace()!.listen(
          reusePort ? { hostname, port, reusePort } : { hostname, port },
        ),
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
    // Deno's resolver is reachable synchronously only through a bind: bind
    // port 0 on the name and read back the address.
    const probe = this.listen({
      hostname,
      port: 0,
      backlog: 1,
      reusePort: false,
    });
    probe.close();
    return probe.addr.hostname;
  },

  parallel() {
    return {
      reason:
        "on Deno, run `deno serve --parallel`, which shares one socket between its workers natively; this runner is a Node program",
    };
  },

  connect(
    hostname: string,
    port: number,
    signal?: AbortSignal,
  ): Promise<NativeStream> {
    return denoNamespace()!.connect({ hostname, port, signal }).then(
      (conn) => new DenoStream(conn),
      rethrow,
    );
  },
};
