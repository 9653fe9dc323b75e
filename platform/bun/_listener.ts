/**
 * Listening sockets on Bun: `Bun.listen` binds and listens synchronously and
 * accepts eagerly (Bun has no pull-based accept, and its backlog is fixed),
 * so the connections nobody asked for yet wait here, paused, reading
 * nothing, until an `accept()` takes them in order.
 *
 * @module
 */
import { isIP } from "node:net";
import { Arrivals } from "../../core/arrivals.ts";
import { lookupError } from "../errno.ts";
import type {
  BindRequest,
  NativeListener,
  NativeStream,
  SocketAddress,
} from "../types.ts";
import type { BunError, BunGlobal, BunServer, BunSocket } from "./_bun.ts";
import { bunError } from "./_errors.ts";
import { BunStream } from "./_stream.ts";

/** A listening socket of this thread's own, on `Bun.listen`. */
export class BunListener implements NativeListener {
  readonly addr: SocketAddress;
  #server: BunServer;
  #arrivals = new Arrivals<BunStream>();

  /** Binds and listens now; throws Deno's class for the errno. */
  constructor(bun: BunGlobal, { hostname, port, reusePort }: BindRequest) {
    try {
      this.#server = bun.listen({
        hostname,
        port,
        reusePort,
        // Deno's streams are half-open: the peer's FIN ends reads only.
        allowHalfOpen: true,
        socket: { ...BunStream.handlers, open: (s) => this.#onOpen(s) },
      });
    } catch (err) {
      // A name Bun could not resolve comes without an errno name.
      if ((err as BunError).code === undefined && isIP(hostname) === 0) {
        throw lookupError(undefined);
      }
      throw bunError(err);
    }
    const out: Record<string, unknown> = {};
    this.#server.getsockname(out);
    this.addr = { hostname: String(out.address), port: Number(out.port) };
    // Deno holds the process only while an accept is pending.
    this.#server.unref();
  }

  #onOpen(socket: BunSocket): void {
    const stream = new BunStream(socket);
    if (this.#arrivals.closed) stream.close();
    else this.#arrivals.push(stream);
  }

  accept(): Promise<NativeStream> {
    return this.#arrivals.next();
  }

  setRef(ref: boolean): void {
    if (this.#arrivals.closed) return;
    if (ref) this.#server.ref();
    else this.#server.unref();
  }

  /** Closes the socket and every connection still queued. */
  close(): void {
    for (const stream of this.drain()) stream.close();
  }

  /** Closes the socket (the port is free at once); returns the connections still queued. */
  drain(): NativeStream[] {
    if (this.#arrivals.closed) return [];
    // Connections already handed out stay open, as in Deno.
    this.#server.stop(false);
    return this.#arrivals.close();
  }
}
