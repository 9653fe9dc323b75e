/**
 * Unix domain sockets on Bun: `Bun.listen({ unix })` binds and listens
 * synchronously (a taken path throws at once) and removes the socket file
 * when it stops, as Deno does; connections are the same `BunStream`s as
 * TCP's. Bun's public API has no Unix datagram socket.
 *
 * @module
 */
import { builtin } from "../builtin.ts";
import type {
  NativeListener,
  NativeStream,
  UnixAddress,
  UnixSockets,
} from "../types.ts";
import type { BunGlobal, BunServer } from "./_bun.ts";
import { NetError } from "../../core/messages.ts";
import { codeError } from "../errno.ts";
import { Held } from "./_held.ts";
import { BunStream } from "./_stream.ts";

/** The unnamed end of a connection: what the kernel reports for a client. */
const UNNAMED: UnixAddress = { path: null };

/**
 * Bun ends every name with a NUL, an abstract one too, so the longest
 * abstract name Linux takes (108 bytes) fails there with `EINVAL`.
 */
function checkAbstract(bun: BunGlobal, path: string): void {
  if (
    path.startsWith("\0") &&
    builtin("node:buffer").Buffer.byteLength(path) >= 108
  ) {
    throw NetError.abstractNameFull(`Bun ${bun.version}`);
  }
}

/** A listening Unix socket of this thread's own, on `Bun.listen`. */
class BunUnixListener implements NativeListener<UnixAddress> {
  readonly addr: UnixAddress;
  #held: Held<BunStream<UnixAddress>>;

  /** Binds and listens now; throws Deno's class for the errno. */
  constructor(bun: BunGlobal, path: string) {
    // Bun reports no name for a socket: not the one the kernel would pick.
    if (path === "" || path === "\0") {
      throw NetError.unixAutobind(`Bun ${bun.version}`);
    }
    checkAbstract(bun, path);
    this.addr = { path };
    const local = this.addr;
    let server: BunServer;
    try {
      server = bun.listen({
        unix: path,
        allowHalfOpen: true,
        socket: {
          ...BunStream.handlers,
          open: (socket) =>
            this.#held.add(
              new BunStream<UnixAddress>(socket, { local, remote: UNNAMED }),
            ),
        },
      });
    } catch (err) {
      throw codeError(err);
    }
    this.#held = new Held({
      ref: () => server.ref(),
      unref: () => server.unref(),
      // Connections already handed out stay open, as in Deno.
      stop: () => server.stop(false),
      dispose: (stream) => stream.close(),
    });
  }

  accept(): Promise<NativeStream<UnixAddress>> {
    return this.#held.next();
  }

  setRef(ref: boolean): void {
    this.#held.setRef(ref);
  }

  close(): void {
    this.#held.close();
  }

  drain(): NativeStream<UnixAddress>[] {
    return this.#held.drain();
  }
}

/** Connects to the Unix socket at `path` with `Bun.connect`. */
async function connectUnix(
  bun: BunGlobal,
  path: string,
): Promise<NativeStream<UnixAddress>> {
  checkAbstract(bun, path);
  let stream: BunStream<UnixAddress> | undefined;
  try {
    await bun.connect({
      unix: path,
      allowHalfOpen: true,
      socket: {
        ...BunStream.handlers,
        open(socket) {
          stream = new BunStream<UnixAddress>(socket, {
            local: UNNAMED,
            remote: { path },
          });
        },
      },
    });
  } catch (err) {
    throw codeError(err);
  }
  return stream!;
}

/** Bun's Unix domain sockets, over `bun` (Bun's global). */
export function bunUnix(bun: () => BunGlobal): UnixSockets {
  return {
    listen: (path) => new BunUnixListener(bun(), path),
    connect: (path) => connectUnix(bun(), path),
    get datagramReason(): string {
      return `Bun ${bun().version} has no Unix datagram sockets in its public API (Bun.udpSocket and node:dgram are UDP only)`;
    },
  };
}
