/**
 * The socket the runner's primary shares with its child processes, on Bun:
 * a `node:net` server, because what Bun can pass over child_process IPC is a
 * `node:net` socket. Bun's `net.Server` binds at once but reports a failure
 * only in a later event, so a failed bind is bound again with `Bun.listen`,
 * which throws the errno synchronously, for Deno's class.
 *
 * @module
 */
import { builtin } from "../builtin.ts";
import type { Socket } from "node:net";
import { AddrInUse } from "../../core/errors.ts";
import type { RawListener, ShareAddress, ShareRequest } from "../types.ts";
import type { BunGlobal } from "./_bun.ts";
import { Held } from "./_held.ts";
import { BunListener } from "./_listener.ts";
import { bunUnix } from "./_unix.ts";

/**
 * A listening `net.Server` (on a TCP address or a Unix socket path) whose
 * connections wait, paused, for `next()`.
 */
export class NetListener implements RawListener<ShareAddress> {
  readonly addr: ShareAddress;
  #held: Held<Socket>;

  /** Binds and listens now; throws Deno's class for the errno. */
  constructor(bun: BunGlobal, request: ShareRequest) {
    const server = builtin("node:net").createServer({
      pauseOnConnect: true,
      allowHalfOpen: true,
    });
    // The failure is thrown below; the event that repeats it is no news.
    server.on("error", () => {});
    if ("path" in request) {
      server.listen({ path: request.path, backlog: request.backlog });
    } else {
      const { hostname, port, reusePort } = request;
      server.listen({ host: hostname, port, reusePort });
    }
    const bound = server.address();
    if (!bound) {
      server.close();
      // Throws Deno's class for the errno; should the address have come
      // free in the meantime, the bind still failed.
      if ("path" in request) {
        bunUnix(() => bun).listen(request.path, request.backlog).close();
      } else new BunListener(bun, request).close();
      throw new AddrInUse(`cannot listen on ${describe(request)}`);
    }
    this.addr = typeof bound === "string"
      ? { path: bound }
      : { hostname: bound.address, port: bound.port };
    this.#held = new Held({
      ref: () => server.ref(),
      unref: () => server.unref(),
      stop: () => server.close(),
      dispose: (socket) => socket.destroy(),
    });
    server.on("connection", (socket) => this.#held.add(socket));
  }

  next(): Promise<Socket> {
    return this.#held.next();
  }

  setRef(ref: boolean): void {
    this.#held.setRef(ref);
  }

  /** Closes the socket and the connections it holds. */
  close(): void {
    this.#held.close();
  }
}

/** The address of `request`, for a message. */
function describe(request: ShareRequest): string {
  return "path" in request
    ? request.path
    : `${request.hostname}:${request.port}`;
}
