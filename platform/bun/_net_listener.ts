/**
 * The socket the runner's primary shares with its child processes, on Bun:
 * a `node:net` server, because what Bun can pass over child_process IPC is a
 * `node:net` socket. Bun's `net.Server` binds at once but reports a failure
 * only in a later event, so a failed bind is bound again with `Bun.listen`,
 * which throws the errno synchronously, for Deno's class.
 *
 * @module
 */
import { createServer, type Server, type Socket } from "node:net";
import { Arrivals } from "../../core/arrivals.ts";
import { AddrInUse } from "../../errors.ts";
import type { BindRequest, RawListener, SocketAddress } from "../types.ts";
import type { BunGlobal } from "./_bun.ts";
import { BunListener } from "./_listener.ts";

/** A listening `net.Server` whose connections wait, paused, for `next()`. */
export class NetListener implements RawListener {
  readonly addr: SocketAddress;
  #server: Server;
  #arrivals = new Arrivals<Socket>();

  /** Binds and listens now; throws Deno's class for the errno. */
  constructor(bun: BunGlobal, request: BindRequest) {
    const { hostname, port, reusePort } = request;
    this.#server = createServer({ pauseOnConnect: true, allowHalfOpen: true });
    // The failure is thrown below; the event that repeats it is no news.
    this.#server.on("error", () => {});
    this.#server.listen({ host: hostname, port, reusePort });
    const bound = this.#server.address();
    if (!bound || typeof bound === "string") {
      this.#server.close();
      // Throws Deno's class for the errno; should the address have come
      // free in the meantime, the bind still failed.
      new BunListener(bun, request).close();
      throw new AddrInUse(`cannot listen on ${hostname}:${port}`);
    }
    this.addr = { hostname: bound.address, port: bound.port };
    this.#server.on("connection", (socket) => {
      if (this.#arrivals.closed) socket.destroy();
      else this.#arrivals.push(socket);
    });
    this.#server.unref();
  }

  next(): Promise<Socket> {
    return this.#arrivals.next();
  }

  setRef(ref: boolean): void {
    if (this.#arrivals.closed) return;
    if (ref) this.#server.ref();
    else this.#server.unref();
  }

  /** Closes the socket and the connections it holds. */
  close(): void {
    if (this.#arrivals.closed) return;
    this.#server.close();
    for (const socket of this.#arrivals.close()) socket.destroy();
  }
}
