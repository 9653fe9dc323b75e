/**
 * The Deno runtime: Deno's own `Deno.listen` / `Deno.connect`, with their
 * errors turned into this package's classes.
 *
 * @module
 */
import { loadTcpWrap } from "../libuv/binding.ts";
import { bindTcp, HandleListener, RawAcceptor } from "../libuv/listener.ts";
import { HandleStream } from "../libuv/stream.ts";
import { resolveByBinding } from "../resolve.ts";
import type {
  BindRequest,
  NativeListener,
  NativeStream,
  Runtime,
} from "../types.ts";
import { denoNamespace, rethrow } from "./_native.ts";
import { DenoListenerAdapter, DenoStream } from "./_stream.ts";
import { bindError } from "./_workers.ts";
import { denoTls } from "./tls.ts";

/** Deno, through its own TCP ops. */
export const denoRuntime: Runtime = {
  name: "deno",
  nativeDenoApi: true,

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
        (conn) => new DenoStream(conn),
      );
    } catch (err) {
      throw bindError(err, shared === true);
    }
  },

  resolveListenHost(hostname: string): string {
    return resolveByBinding((r) => this.listen(r), hostname);
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

  tls: denoTls,
};
