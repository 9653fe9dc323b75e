/**
 * Listening sockets on Bun: `Bun.listen` binds and listens synchronously and
 * accepts eagerly (Bun has no pull-based accept, and its backlog is fixed),
 * so the connections nobody asked for yet wait here, paused, reading
 * nothing, until an `accept()` takes them in order.
 *
 * @module
 */
import { ipFamily } from "../../core/ip.ts";
import type {
  BindRequest,
  NativeListener,
  NativeStream,
  SocketAddress,
} from "../types.ts";
import type { BunError, BunGlobal, BunServer } from "./_bun.ts";
import { codeError, lookupError } from "../errno.ts";
import { Held } from "./_held.ts";
import { BunStream } from "./_stream.ts";

/** A listening socket of this thread's own, on `Bun.listen`. */
export class BunListener implements NativeListener {
  readonly addr: SocketAddress;
  #held: Held<BunStream>;
  /** Every connection's local address, when bound to one IP (not a wildcard). */
  #local: SocketAddress | undefined;

  /** Binds and listens now; throws Deno's class for the errno. */
  constructor(bun: BunGlobal, { hostname, port, reusePort }: BindRequest) {
    let server: BunServer;
    try {
      server = bun.listen({
        hostname,
        port,
        reusePort,
        // Deno's streams are half-open: the peer's FIN ends reads only.
        allowHalfOpen: true,
        socket: {
          ...BunStream.handlers,
          open: (socket) =>
            this.#held.add(new BunStream(socket, { local: this.#local })),
        },
      });
    } catch (err) {
      // A name Bun could not resolve comes without an errno name.
      if (
        (err as BunError).code === undefined &&
        ipFamily(hostname) === 0
      ) {
        throw lookupError(undefined);
      }
      throw codeError(err);
    }
    const out: Record<string, unknown> = {};
    server.getsockname(out);
    this.addr = { hostname: String(out.address), port: Number(out.port) };
    const { hostname: bound } = this.addr;
    if (bound !== "0.0.0.0" && bound !== "::") this.#local = this.addr;
    this.#held = new Held({
      ref: () => server.ref(),
      unref: () => server.unref(),
      // Connections already handed out stay open, as in Deno.
      stop: () => server.stop(false),
      dispose: (stream) => stream.close(),
    });
  }

  accept(): Promise<NativeStream> {
    return this.#held.next();
  }

  setRef(ref: boolean): void {
    this.#held.setRef(ref);
  }

  /** Closes the socket and every connection still queued. */
  close(): void {
    this.#held.close();
  }

  /** Closes the socket (the port is free at once); returns the connections still queued. */
  drain(): NativeStream[] {
    return this.#held.drain();
  }
}
