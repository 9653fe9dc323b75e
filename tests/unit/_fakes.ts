/**
 * Fakes for the pure parts: an accept source whose connections the test
 * hands out, a runtime of fake sockets and handles that move nowhere, so
 * that `core/`, `ops/` and `sharing/` run with no network at all.
 */
import type { AcceptSource } from "../../core/accept_queue.ts";
import * as errors from "../../core/errors.ts";
import { NetError } from "../../core/messages.ts";
import type {
  BindRequest,
  Handles,
  NativeListener,
  NativeStream,
  RawConnection,
  RawListener,
  Runtime,
  ShareAddress,
  ShareRequest,
  SocketAddress,
  Tls,
  TlsHandshakeInfo,
  TlsServerSettings,
  TlsStream,
} from "../../platform/types.ts";

/** A source of connections that arrive when the test says so. */
export class FakeSource<T> implements AcceptSource<T> {
  arrived: T[] = [];
  refs: boolean[] = [];
  pulls = 0;
  closed = false;
  #pending: { resolve(item: T): void; reject(err: Error): void } | null = null;

  next(): Promise<T> {
    this.pulls++;
    if (this.closed) return Promise.reject(NetError.listenerClosed());
    const item = this.arrived.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve, reject) =>
      this.#pending = { resolve, reject }
    );
  }

  setRef(ref: boolean): void {
    this.refs.push(ref);
  }

  /** A connection arrives (to the pending `next()`, else queued). */
  arrive(item: T): void {
    const pending = this.#pending;
    this.#pending = null;
    if (pending) pending.resolve(item);
    else this.arrived.push(item);
  }

  /** The next `next()` (or the pending one) fails with `err`. */
  fail(err: Error): void {
    const pending = this.#pending;
    this.#pending = null;
    pending?.reject(err);
  }

  close(): void {
    this.closed = true;
    this.fail(NetError.listenerClosed());
  }
}

/** Lets pending promise callbacks run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A stream that records what happens to it. */
export class FakeStream implements NativeStream {
  readonly localAddr: SocketAddress = { hostname: "10.0.0.1", port: 80 };
  readonly remoteAddr: SocketAddress;
  closed = false;
  constructor(readonly id: number) {
    this.remoteAddr = { hostname: "10.0.0.2", port: 40000 + id };
  }
  read(_buf: Uint8Array): Promise<number> {
    return Promise.resolve(0);
  }
  write(buf: Uint8Array): Promise<number> {
    return Promise.resolve(buf.byteLength);
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    this.closed = true;
  }
  setNoDelay(): void {}
  setKeepAlive(): void {}
  setReadRef(): void {}
}

/** A fake TLS stream over a fake TCP one: records who wrapped it, and how. */
export class FakeTlsStream extends FakeStream implements TlsStream {
  constructor(
    readonly under: NativeStream,
    readonly side: "server" | "client",
    readonly alpnProtocol: string | null,
  ) {
    super((under as FakeStream).id);
  }
  handshake(): Promise<TlsHandshakeInfo> {
    return Promise.resolve({ alpnProtocol: this.alpnProtocol });
  }
}

/** TLS on fake streams: the first ALPN protocol wins; no bytes are encrypted. */
function fakeTls(connect: () => Promise<NativeStream>): Tls {
  return {
    serverContext: (settings: TlsServerSettings) => ({ ...settings }),
    accept: (stream, context) =>
      new FakeTlsStream(
        stream,
        "server",
        (context as TlsServerSettings).alpnProtocols?.[0] ?? null,
      ),
    start: (stream, settings) =>
      Promise.resolve(
        new FakeTlsStream(
          stream,
          "client",
          settings.alpnProtocols?.[0] ?? null,
        ),
      ),
    connect: async (_hostname, _port, settings) =>
      new FakeTlsStream(
        await connect(),
        "client",
        settings.alpnProtocols?.[0] ?? null,
      ),
  };
}

/** A listener over a `FakeSource` of `FakeStream`s. */
export class FakeListener implements NativeListener {
  readonly source: FakeSource<NativeStream> = new FakeSource();
  constructor(readonly addr: SocketAddress) {}
  accept(): Promise<NativeStream> {
    return this.source.next();
  }
  setRef(ref: boolean): void {
    this.source.setRef(ref);
  }
  close(): void {
    this.source.close();
  }
}

/** A runtime of fake sockets: what `listen()` was asked, and the listeners it made. */
export function fakeRuntime(
  env: Record<string, string> = {},
  kernel = true,
): Runtime & { binds: BindRequest[]; listeners: FakeListener[] } {
  let nextPort = 20000;
  const binds: BindRequest[] = [];
  const listeners: FakeListener[] = [];
  return {
    name: "fake",
    nativeDenoApi: false,
    binds,
    listeners,
    kernelSupport: () => ({
      supported: kernel,
      reason: kernel ? "fake kernel balances" : "fake kernel does not",
    }),
    env: (name) => env[name],
    preloadArgs: (module: URL) => ["--preload", module.href],
    listen(request) {
      binds.push(request);
      const listener = new FakeListener({
        hostname: request.hostname,
        port: request.port || nextPort++,
      });
      listeners.push(listener);
      return listener;
    },
    resolveListenHost: () => "10.0.0.1",
    connect: () => Promise.resolve(new FakeStream(0)),
    tls: fakeTls(() => Promise.resolve(new FakeStream(0))),
  };
}

/** A connection handle that records whether it was closed. */
export interface FakeRaw {
  id: number;
  closed: boolean;
}

/** A listening socket of raw connections that arrive when the test says so. */
export class FakeRawListener extends FakeSource<RawConnection>
  implements RawListener<ShareAddress> {
  constructor(readonly addr: ShareAddress) {
    super();
  }
}

/** Handles that move nowhere: what `sharing/` binds, streams and closes. */
export class FakeHandles implements Handles {
  readonly threads = true;
  readonly threadsReason = "fake handles move";
  readonly sockets: FakeRawListener[] = [];
  #nextPort = 30000;

  /** Binds a fake port, or a fake path (taken while a socket there is open). */
  bind(request: ShareRequest): FakeRawListener {
    const taken = (addr: ShareAddress) =>
      "path" in request
        ? "path" in addr && addr.path === request.path
        : "port" in addr && addr.port === request.port;
    if (this.sockets.some((s) => !s.closed && taken(s.addr))) {
      throw new errors.AddrInUse("fake address in use");
    }
    const socket = new FakeRawListener(
      "path" in request ? { path: request.path } : {
        hostname: request.hostname,
        port: request.port || this.#nextPort++,
      },
    );
    this.sockets.push(socket);
    return socket;
  }

  stream(raw: RawConnection): FakeStream {
    return new FakeStream((raw as FakeRaw).id);
  }

  close(raw: RawConnection): void {
    (raw as FakeRaw).closed = true;
  }
}
