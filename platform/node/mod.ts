/**
 * The Node runtime: listening sockets and connections on libuv's TCP handle,
 * and connections that can move to worker threads (Node 24 and later) and to
 * child processes (any Node).
 *
 * @module
 */
import { ipFamily } from "../../core/ip.ts";
import { builtin } from "../builtin.ts";
import { lookupError, uvError } from "../errno.ts";
import { nodeDnsResolver } from "../dns_resolver.ts";
import type {
  BindRequest,
  Handles,
  NativeListener,
  NativeStream,
  Runtime,
  ShareAddress,
  ShareRequest,
  SocketAddress,
  UnixAddress,
  UnixSockets,
} from "../types.ts";
import { loadTcpWrap, type TcpHandle } from "../libuv/binding.ts";
import { bindTcp, HandleListener, RawAcceptor } from "../libuv/listener.ts";
import { connectHandle, HandleStream } from "../libuv/stream.ts";
import {
  bindPipe,
  connectPipe,
  listenPipe,
  pipeStream,
} from "../libuv/pipe.ts";
import { runSync } from "../run_sync.ts";
import { dgramUdp } from "../dgram.ts";
import { tlsSocketOf } from "../libuv/tls_socket.ts";
import { nodeTls } from "../tls/node_tls.ts";

/** Where `SO_REUSEPORT` spreads connections across sockets (FreeBSD: libuv uses `SO_REUSEPORT_LB`). */
const BALANCING_OS: readonly string[] = ["linux", "android", "freebsd"];

function lookupAsync(hostname: string): Promise<string> {
  return new Promise((resolve, reject) => {
    builtin("node:dns").lookup(hostname, (err, address) => {
      if (err) reject(lookupError(err.code));
      else resolve(address);
    });
  });
}

/** Whether this Node can move TCP handles between threads, tested by feature. */
function threadsCanMove(): boolean {
  if (
    typeof builtin("node:worker_threads").postMessageToThread !== "function"
  ) return false;
  return Object.getOwnPropertySymbols(builtin("node:net").Server.prototype)
    .some((s) => s.description === "messaging_transfer_symbol");
}

const stream = (raw: object, localAddr?: SocketAddress): NativeStream =>
  new HandleStream(raw, localAddr);

function bind(request: BindRequest): RawAcceptor {
  const { handle, addr } = bindTcp(request);
  return new RawAcceptor(handle, addr);
}

/** Accepted connections as raw handles, for `sharing/`: TCP and pipe handles. */
const handles: Handles = {
  get threads(): boolean {
    return threadsCanMove();
  },
  get threadsReason(): string {
    return threadsCanMove()
      ? `Node ${builtin("node:process").version} moves sockets between threads`
      : `Node ${
        builtin("node:process").version
      } cannot move sockets between threads (Node 24 can)`;
  },
  get unixThreads(): { moves: boolean; reason: string } {
    // Node transfers TCP handles to a worker (net.Socket's transfer takes a
    // TCP handle only); a pipe handle moves over IPC, to processes.
    return {
      moves: false,
      reason: `Node ${
        builtin("node:process").version
      } cannot move Unix socket connections between threads (a pipe handle cannot be transferred to a worker; only processes can be passed one)`,
    };
  },
  bind(request: ShareRequest): RawAcceptor<ShareAddress> {
    return "path" in request
      ? bindPipe(request.path, request.backlog)
      : bind(request);
  },
  stream(raw: object, unix?: UnixAddress): NativeStream<ShareAddress> {
    return unix ? pipeStream(raw, unix) : stream(raw);
  },
  adopt(
    handle: object,
    addr: ShareAddress,
    backlog: number,
  ): RawAcceptor<ShareAddress> {
    // A socket that moved between threads listens again on this thread's loop.
    const status = (handle as TcpHandle).listen(backlog);
    if (status < 0) {
      (handle as TcpHandle).close();
      throw uvError(status);
    }
    return new RawAcceptor(handle as TcpHandle, addr);
  },
  close(raw: object): void {
    (raw as TcpHandle).close();
  },
};

/** Unix domain sockets on libuv's pipe handle; Node has no Unix datagram socket. */
const unix: UnixSockets = {
  listen: listenPipe,
  connect: connectPipe,
  get datagramReason(): string {
    return `Node ${
      builtin("node:process").version
    } has no Unix datagram sockets (node:dgram has only UDP)`;
  },
};
/** Connects a TCP handle, resolving a name first. */
async function connect(
  hostname: string,
  port: number,
  signal?: AbortSignal,
): Promise<NativeStream> {
  const ip = ipFamily(hostname) ? hostname : await lookupAsync(hostname);
  signal?.throwIfAborted();
  return connectHandle(ip, port, signal);
}

/**
 * The module preloads among `execArgv` (`--import`, `--require`): a worker
 * thread needs them too, but may not be given the process-wide options.
 */
function modulePreloads(execArgv: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i];
    if (/^(--import|--require|-r)=/.test(arg)) kept.push(arg);
    else if (/^(--import|--require|-r)$/.test(arg)) {
      kept.push(arg, execArgv[++i]);
    }
  }
  return kept;
}

/** Node, through libuv. */
export const nodeRuntime: Runtime = {
  name: "node",
  nativeDenoApi: false,
  handles,
  resolveDns: nodeDnsResolver(),
  unix,
  udp: dgramUdp(() => `Node ${builtin("node:process").version}`),

  preloadArgs(module: URL, thread: boolean): string[] {
    const own = thread
      ? modulePreloads(builtin("node:process").execArgv)
      : builtin("node:process").execArgv;
    return [...own, "--import", module.href];
  },
  kernelSupport(): { supported: boolean; reason: string } {
    const node = `Node ${builtin("node:process").version} on ${
      builtin("node:process").platform
    }`;
    if (typeof loadTcpWrap().constants.UV_TCP_REUSEPORT !== "number") {
      return {
        supported: false,
        reason:
          `${node} cannot bind with SO_REUSEPORT (libuv's UV_TCP_REUSEPORT arrived in Node 22.12)`,
      };
    }
    if (!BALANCING_OS.includes(builtin("node:process").platform)) {
      return {
        supported: false,
        reason: `${node}: SO_REUSEPORT does not balance connections there`,
      };
    }
    return {
      supported: true,
      reason: `${node} binds with SO_REUSEPORT on libuv's TCP handle${
        // Node >= 26.4's public synchronous bind: it learns of a taken port
        // only at listen(), in an event, and hands connections to net.Socket.
        "BoundSocket" in builtin("node:net")
          ? " (not net.BoundSocket: two of them bind one port, and the second hears of it only at listen(), in an event)"
          : ""} and the kernel balances`,
    };
  },

  env(name: string): string | undefined {
    return builtin("node:process").env[name];
  },

  listen(request: BindRequest): NativeListener {
    return new HandleListener(bind(request), stream);
  },

  resolveListenHost(hostname: string): string {
    // Deno resolves a listen address before `listen()` returns. Node has no
    // synchronous resolver, so ask getaddrinfo in a short child process.
    const script =
      "require('dns').lookup(process.argv[1],(e,a)=>process.stdout.write(JSON.stringify(e?{code:e.code}:{address:a})))";
    let answer: { code?: string; address?: string } = {};
    try {
      answer = JSON.parse(runSync(script, [hostname]));
    } catch {
      answer = { code: "EAI_AGAIN" };
    }
    if (answer.address) return answer.address;
    throw lookupError(answer.code);
  },

  connect,
  tls: nodeTls(tlsSocketOf, connect),
};
