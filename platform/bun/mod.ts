/**
 * The Bun runtime: listening sockets on `Bun.listen` (synchronous bind,
 * `SO_REUSEPORT` where the kernel balances), connections on Bun's callback
 * sockets behind Deno's pull-based streams. Bun cannot move a socket to
 * another Worker, so threads share an address only through the kernel (one
 * socket each); the parallel runner's processes share one through its
 * primary, which passes `node:net` sockets over IPC.
 *
 * @module
 */
import { resolveByBinding } from "../resolve.ts";
import type { Socket } from "node:net";
import { builtin } from "../builtin.ts";
import { nodeDnsResolver } from "../dns_resolver.ts";
import type {
  BindRequest,
  Handles,
  NativeListener,
  NativeStream,
  RawConnection,
  Runtime,
  UnixAddress,
} from "../types.ts";
import type { BunGlobal } from "./_bun.ts";
import { codeError } from "../errno.ts";
import { BunListener } from "./_listener.ts";
import { NetListener } from "./_net_listener.ts";
import { NetStream } from "../socket_stream.ts";
import { BunStream } from "./_stream.ts";
import { bunUnix } from "./_unix.ts";
import { bunUdp } from "./_udp.ts";
import { duplexOf } from "../tls/_duplex.ts";
import { nodeTls } from "../tls/node_tls.ts";
import { bunTls } from "./_tls.ts";

/** Where `SO_REUSEPORT` spreads connections across sockets. */
const BALANCING_OS: readonly string[] = ["linux", "android"];

/** Bun's global: this adapter runs only where `isBun()` holds. */
function bun(): BunGlobal {
  return (globalThis as unknown as { Bun: BunGlobal }).Bun;
}

let kernel: { supported: boolean; reason: string } | undefined;

/** Whether a second `reusePort` listener can bind the port of a first: a feature test. */
function bindsWithReusePort(): boolean {
  const request = { hostname: "127.0.0.1", port: 0, backlog: 1 };
  let first: BunListener | undefined;
  try {
    first = new BunListener(bun(), { ...request, reusePort: true });
    new BunListener(bun(), {
      ...request,
      port: first.addr.port,
      reusePort: true,
    }).close();
    return true;
  } catch {
    return false;
  } finally {
    first?.close();
  }
}

function probeKernel(): { supported: boolean; reason: string } {
  const where = `Bun ${bun().version} on ${builtin("node:process").platform}`;
  if (!BALANCING_OS.includes(builtin("node:process").platform)) {
    return {
      supported: false,
      reason: `${where}: SO_REUSEPORT does not balance connections there`,
    };
  }
  if (!bindsWithReusePort()) {
    return {
      supported: false,
      reason: `${where} cannot bind two listeners with reusePort on one port`,
    };
  }
  return {
    supported: true,
    reason: `${where} binds with SO_REUSEPORT and the kernel balances`,
  };
}

/**
 * Connections that can move to the parallel runner's child processes: what
 * Bun passes over IPC is a `node:net` socket, so the shared socket is a
 * `net.Server`. A socket cannot be posted to a Worker: threads cannot share.
 */
const handles: Handles = {
  threads: false,
  get threadsReason(): string {
    return `Bun ${bun().version} cannot move sockets between threads (a socket cannot be posted to a Worker)`;
  },
  bind: (request) => new NetListener(bun(), request),
  // A Unix socket's connection knows no address: the listener's path, and
  // the client's end has none.
  stream: (raw, unix) =>
    unix
      ? new NetStream<UnixAddress>(raw as Socket, {
        localAddr: unix,
        remoteAddr: { path: null },
      })
      : new NetStream(raw as Socket),
  close(raw: RawConnection): void {
    (raw as Socket).destroy();
  },
};

/** Bun, through `Bun.listen` and `Bun.connect`. */
export const bunRuntime: Runtime = {
  name: "bun",
  nativeDenoApi: false,
  handles,
  // Bun's node:dns gives each character string of a TXT record as a record
  // of its own, decoded as UTF-8; Deno keeps them together, as Latin-1.
  resolveDns: nodeDnsResolver(["TXT"]),
  unix: bunUnix(bun),
  udp: bunUdp,

  preloadArgs(module: URL, _thread: boolean): string[] {
    return [
      ...builtin("node:process").execArgv,
      "--preload",
      builtin("node:url").fileURLToPath(module),
    ];
  },
  kernelSupport(): { supported: boolean; reason: string } {
    kernel ??= probeKernel();
    return kernel;
  },

  env(name: string): string | undefined {
    return builtin("node:process").env[name];
  },

  listen(request: BindRequest): NativeListener {
    return new BunListener(bun(), request);
  },

  resolveListenHost(hostname: string): string {
    return resolveByBinding((r) => new BunListener(bun(), r), hostname);
  },

  connect,
  // Bun's sockets cannot be handed to `node:tls`: it runs over a Duplex,
  // which tells it of the peer's end once it has said `close_notify`.
  // Bun's own sockets get Bun's own TLS instead.
  tls: bunTls(
    nodeTls((stream) => duplexOf(stream, { holdEnd: true }), connect),
    connect,
  ),
};

/** Connects with `Bun.connect`. */
async function connect(
  hostname: string,
  port: number,
  signal?: AbortSignal,
): Promise<NativeStream> {
  signal?.throwIfAborted();
  let stream: BunStream | undefined;
  let aborted = false;
  const connecting = bun().connect({
    hostname,
    port,
    allowHalfOpen: true,
    socket: {
      ...BunStream.handlers,
      open(socket) {
        stream = new BunStream(socket);
        if (aborted) stream.close();
      },
    },
  }).then(() => stream!, (err) => Promise.reject(codeError(err)));
  if (!signal) return await connecting;
  return await new Promise<NativeStream>((resolve, reject) => {
    const onAbort = () => {
      aborted = true;
      stream?.close();
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    connecting.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}
