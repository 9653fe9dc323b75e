/**
 * Listening sockets on Bun: `Bun.listen` binds and listens synchronously and
 * accepts eagerly (Bun has no pull-based accept), so the connections nobody
 * asked for yet wait here, paused, reading nothing, one `accept()` at a time.
 *
 * @module
 */
import { BadResource } from "../../errors.ts";
import type {
  BindRequest,
  NativeListener,
  NativeStream,
  SocketAddress,
} from "../types.ts";
import type { BunGlobal, BunServer, BunSocket } from "./_bun.ts";
import { bunError } from "./_errors.ts";
import { BunStream } from "./_stream.ts";

function listenerClosed(): BadResource {
  return new BadResource("Listener has been closed");
}

/** A listening socket of this thread's own, on `Bun.listen`. */
export class BunListener implements NativeListener {
  readonly addr: SocketAddress;
  #server: BunServer;
  #queue: BunStream[] = [];
  #waiter: {
    resolve(stream: NativeStream): void;
    reject(err: Error): void;
  } | null = null;
  #closed = false;

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
    if (this.#closed) return stream.close();
    const waiter = this.#waiter;
    if (!waiter) return void this.#queue.push(stream);
    this.#waiter = null;
    waiter.resolve(stream);
  }

  accept(): Promise<NativeStream> {
    if (this.#closed) return Promise.reject(listenerClosed());
    const ready = this.#queue.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  setRef(ref: boolean): void {
    if (this.#closed) return;
    if (ref) this.#server.ref();
    else this.#server.unref();
  }

  /** Closes the socket and every connection still queued. */
  close(): void {
    for (const stream of this.drain()) stream.close();
  }

  /** Closes the socket (the port is free at once); returns the connections still queued. */
  drain(): NativeStream[] {
    if (this.#closed) return [];
    this.#closed = true;
    // Connections already handed out stay open, as in Deno.
    this.#server.stop(false);
    this.#waiter?.reject(listenerClosed());
    this.#waiter = null;
    return this.#queue.splice(0);
  }
}
