/**
 * The Node runtime: listening sockets on libuv's TCP handle, connections on
 * `net.Socket`, sockets shared between worker threads (through the main
 * thread) and between the parallel runner's processes (through its primary).
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { lookup } from "node:dns";
import { isIP, Socket } from "node:net";
import process from "node:process";
import { isMainThread, threadId } from "node:worker_threads";
import { AddrInUse } from "../errors.ts";
import { HubMember, RemoteMember } from "./_hub.ts";
import {
  bindTcp,
  loadTcpWrap,
  NodeListener,
  RawAcceptor,
} from "./_node_listener.ts";
import {
  memberPrefix as processPrefix,
  processChannel,
} from "./_node_processes.ts";
import { runParallel } from "./_node_runner.ts";
import { stoppable } from "./_node_stop.ts";
import { NodeStream, socketError } from "./_node_stream.ts";
import {
  isThreadHub,
  memberPrefix as threadPrefix,
  startThreadHub,
  threadChannel,
  threadsCanShare,
} from "./_node_threads.ts";
import { lookupError } from "./_os_errors.ts";
import type {
  BindRequest,
  NativeListener,
  NativeStream,
  Runtime,
} from "./types.ts";

/** Where `SO_REUSEPORT` spreads connections across sockets (FreeBSD: libuv uses `SO_REUSEPORT_LB`). */
const BALANCING_OS: readonly string[] = ["linux", "android", "freebsd"];

/** Member ids name the thread or process they live in. */
function memberPrefixHere(): string {
  return processChannel() ? processPrefix(process.pid) : threadPrefix(threadId);
}

/** Why a worker thread's listener could not join another thread's socket. */
function threadsCannotShare(): string {
  const why = threadsCanShare()
    ? "@reuseport/net was not loaded in the main thread before this worker started"
    : `Node ${process.version} cannot move sockets between threads (Node 24 can)`;
  return `another listener holds this address, and if it is in another thread of this process, ${why}. ` +
    "Use the kernel strategy (reusePort on Linux with Node >= 22.12) or processes: npx reuseport serve --parallel --processes";
}

function lookupAsync(hostname: string): Promise<string> {
  return new Promise((resolve, reject) => {
    lookup(hostname, (err, address) => {
      if (err) reject(lookupError(err.code));
      else resolve(address);
    });
  });
}

/** Node, through libuv. */
export const nodeRuntime: Runtime = {
  name: "node",

  kernelSupport(): { supported: boolean; reason: string } {
    const node = `Node ${process.version} on ${process.platform}`;
    if (typeof loadTcpWrap().constants.UV_TCP_REUSEPORT !== "number") {
      return {
        supported: false,
        reason:
          `${node} cannot bind with SO_REUSEPORT (libuv's UV_TCP_REUSEPORT arrived in Node 22.12)`,
      };
    }
    if (!BALANCING_OS.includes(process.platform)) {
      return {
        supported: false,
        reason: `${node}: SO_REUSEPORT does not balance connections there`,
      };
    }
    return {
      supported: true,
      reason: `${node} binds with SO_REUSEPORT and the kernel balances`,
    };
  },

  env(name: string): string | undefined {
    return process.env[name];
  },

  listen(request: BindRequest): NativeListener {
    if (request.shared) {
      const channel = processChannel() ?? threadChannel();
      if (channel) {
        return stoppable(
          new RemoteMember(channel, request, memberPrefixHere()),
        );
      }
      if (isThreadHub()) return stoppable(new HubMember(request));
    }
    try {
      const { handle, addr } = bindTcp(request);
      return stoppable(new NodeListener(new RawAcceptor(handle, addr)));
    } catch (err) {
      if (request.shared && !isMainThread && err instanceof AddrInUse) {
        throw new AddrInUse(`${err.message}: ${threadsCannotShare()}`);
      }
      throw err;
    }
  },

  resolveListenHost(hostname: string): string {
    // Deno resolves a listen address before `listen()` returns. Node has no
    // synchronous resolver, so ask getaddrinfo in a short child process.
    const script =
      "require('dns').lookup(process.argv[1],(e,a)=>process.stdout.write(JSON.stringify(e?{code:e.code}:{address:a})))";
    const child = spawnSync(process.execPath, ["-e", script, hostname], {
      encoding: "utf8",
      timeout: 10_000,
    });
    let answer: { code?: string; address?: string } = {};
    try {
      answer = JSON.parse(child.stdout);
    } catch {
      answer = { code: "EAI_AGAIN" };
    }
    if (answer.address) return answer.address;
    throw lookupError(answer.code);
  },

  parallel() {
    return {
      run: runParallel,
      reason: `Node ${process.version} runs workers as threads or processes`,
    };
  },

  async connect(
    hostname: string,
    port: number,
    signal?: AbortSignal,
  ): Promise<NativeStream> {
    const ip = isIP(hostname) ? hostname : await lookupAsync(hostname);
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const socket = new Socket({ allowHalfOpen: true });
      const onAbort = () => {
        socket.destroy();
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      socket.once("error", (err) => {
        signal?.removeEventListener("abort", onAbort);
        reject(socketError(err));
      });
      socket.connect({ host: ip, port }, () => {
        signal?.removeEventListener("abort", onAbort);
        socket.removeAllListeners("error");
        resolve(new NodeStream(socket));
      });
    });
  },
};

startThreadHub();
