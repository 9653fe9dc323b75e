/**
 * The one interface between the ops layer and a JavaScript runtime. `ops/`
 * and `sharing/` talk only to these types; `platform/node/` and
 * `platform/deno/` implement them (both partly on `platform/libuv/`).
 * Everything a runtime does differently stays behind here.
 *
 * @module
 */

/**
 * An IP address and port, as the OS reports them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_listen_tcp, type SocketAddress } from "@reuseport/net/ops";
 *
 * const [rid, addr]: [number, SocketAddress] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * assert.equal(addr.hostname, "127.0.0.1");
 * close(rid);
 * ```
 */
export interface SocketAddress {
  /** IP literal: `127.0.0.1`, `::1`. */
  hostname: string;
  /** Port number, 0–65535. */
  port: number;
}

/** What to bind: always an IP literal, never a name (names are resolved first). */
export interface BindRequest extends SocketAddress {
  /** Length of the kernel's queue of connections not yet accepted. */
  backlog: number;
  /** Set `SO_REUSEPORT` so that the kernel balances between sockets. */
  reusePort: boolean;
  /**
   * Join the socket shared for this address by other threads or the
   * parallel runner's processes, where the runtime can (the emulated strategy).
   */
  shared?: boolean;
}

/**
 * What a listener shared across threads or the runner's processes binds on
 * a Unix socket: one more kind of address for `sharing/`, keyed by its path.
 */
export interface UnixBindRequest {
  readonly transport: "unix";
  /** The path, absolute (a Linux abstract name starts with `"\0"`). */
  path: string;
  /** Length of the kernel's queue of connections not yet accepted. */
  backlog: number;
}

/** What `sharing/` binds: a TCP address or a Unix socket path. */
export type ShareRequest = BindRequest | UnixBindRequest;

/** The address of a shared socket: TCP's, or a Unix socket's. */
export type ShareAddress = SocketAddress | UnixAddress;

/**
 * A Unix socket's address: its path (a Linux abstract name starts with
 * `"\0"`), `null` for a socket that has none (a client's end).
 */
export interface UnixAddress {
  /** The path, or `null`. */
  path: string | null;
}

/**
 * A bound, listening socket. Accepting is pull-based: one pending call at a
 * time. `A` is its transport's address (`SocketAddress`, `UnixAddress`).
 */
export interface NativeListener<A = SocketAddress> {
  /** The address the OS bound (the real port when 0 was asked for). */
  readonly addr: A;
  /** The next connection; rejects with an `errors` class. */
  accept(): Promise<NativeStream<A>>;
  /** Whether a pending `accept()` keeps the process alive. */
  setRef(ref: boolean): void;
  /** Closes the socket now (the port is free when this returns). */
  close(): void;
  /**
   * Closes the socket like `close()`, and returns the connections it had
   * accepted that nobody took yet (where the runtime accepts ahead of time),
   * so that a sibling listener can serve them.
   */
  drain?(): NativeStream<A>[];
}

/** A connected stream (TCP, or Unix with `A = UnixAddress`). */
export interface NativeStream<A = SocketAddress> {
  /** This end's address. */
  readonly localAddr: A;
  /** The peer's address. */
  readonly remoteAddr: A;
  /** Reads into `buf`; resolves the byte count, 0 at end of stream. */
  read(buf: Uint8Array): Promise<number>;
  /**
   * `read`, resolving `null` at end of stream, as `Conn#read` answers: where
   * a stream has it, a pending read is one promise, not two (an idle
   * connection waits in one).
   */
  readOrNull?(buf: Uint8Array): Promise<number | null>;
  /**
   * The next bytes as a chunk that owns its whole `ArrayBuffer`, `null` at
   * end of stream: where a stream has it, a byte stream's default reader
   * gets the source's chunks as they came, without a buffer allocated and
   * copied into per chunk.
   */
  readChunk?(): Promise<Uint8Array<ArrayBuffer> | null>;
  /** Writes all of `buf`; resolves the byte count once the OS has taken it. */
  write(buf: Uint8Array): Promise<number>;
  /** Shuts down the write side: the peer reads end of stream. */
  shutdown(): Promise<void>;
  /** Closes now; a pending read rejects with `Interrupted`. */
  close(): void;
  /** `TCP_NODELAY` (TCP only: the ops never ask a Unix stream). */
  setNoDelay(on: boolean): void;
  /** `SO_KEEPALIVE` (TCP only). */
  setKeepAlive(on: boolean): void;
  /** Whether a pending `read()` keeps the process alive. */
  setReadRef(ref: boolean): void;
  /** Whether a read, write or shutdown is pending, where the stream knows. */
  readonly busy?: boolean;
  /**
   * Where the stream is one of Deno's own conns: its rid under Deno's
   * internal symbol, which Deno's functions that take a conn (`startTls`)
   * read; the conn that wraps this stream carries it too.
   */
  readonly internalRid?: { symbol: symbol; rid: number };
}

/** The runtime's sockets, as the ops layer uses them. */
export interface Runtime {
  /** `"node"` or `"deno"`: for messages and diagnostics only. */
  readonly name: string;
  /** Whether this runtime has a `Deno.listen` of its own (native Deno). */
  readonly nativeDenoApi: boolean;
  /**
   * Whether this runtime can bind with `SO_REUSEPORT` on this OS, where the
   * kernel then balances, and why (or why not).
   */
  kernelSupport(): { supported: boolean; reason: string };
  /** An environment variable, or `undefined` when unset or not readable. */
  env(name: string): string | undefined;
  /**
   * The options of this runtime's command line that load `module` before
   * the main module of a child process or worker thread (`thread`) it
   * starts (the parallel runner's workers), with the options of this
   * process's that carry over.
   */
  preloadArgs(module: URL, thread: boolean): string[];
  /** Binds and listens synchronously; throws an `errors` class. */
  listen(request: BindRequest): NativeListener;
  /** Resolves a host name synchronously to the IP a listener would bind. */
  resolveListenHost(hostname: string): string;
  /** Connects; resolves names asynchronously. */
  connect(
    hostname: string,
    port: number,
    signal?: AbortSignal,
  ): Promise<NativeStream>;
  /** UDP sockets, where this runtime has them. */
  readonly udp?: Udp;
  /**
   * Connections as handles that can move to another thread or process,
   * where the runtime can move them: what `sharing/` builds on.
   */
  readonly handles?: Handles;
  /**
   * Asks a name server for the records of `question`, in Deno's shapes;
   * rejects with Deno's errors (`NotFound`, `TimedOut`, ...).
   */
  resolveDns?(question: DnsQuestion): Promise<DnsRecord[]>;
  /** Unix domain sockets, where the runtime has them. */
  readonly unix?: UnixSockets;
  /** TLS over this runtime's own TLS stack. */
  readonly tls: Tls;
  /**
   * The runtime's own TCP objects, handed to the program as they are where
   * nothing needs emulating: a runtime that has Deno's API itself (native
   * Deno) has nothing to gain from a wrapper around its own listener and
   * conns, and its other functions (`startTls`, what reads Deno's internal
   * rid) take only its own.
   */
  readonly own?: OwnTcp;
}

/** Which of the runtime's own classes an object is, for `instanceof`. */
export type OwnKind =
  | "conn"
  | "tcpConn"
  | "tlsConn"
  | "unixConn"
  | "listener"
  | "datagramConn";

/** The runtime's own TCP and TLS listeners and conns, as they are (see `Runtime.own`). */
export interface OwnTcp {
  /**
   * The runtime's own listener bound for `request`, or `undefined` where its
   * own cannot bind so (`reusePort` where it would need a flag it was not
   * given). Throws an `errors` class.
   */
  listen(request: BindRequest): object | undefined;
  /** Connects with the runtime's own connect: its own conn. */
  connect(
    hostname: string,
    port: number,
    signal?: AbortSignal,
  ): Promise<object>;
  /** Whether `value` is one of the runtime's own objects of `kind`. */
  is(kind: OwnKind, value: unknown): boolean;
  /** Starts TLS on one of its own conns with its own `startTls`: its own TLS conn. */
  startTls(conn: object, settings: TlsClientSettings): Promise<object>;
  /** The runtime's own TLS listener for `request`, as `listen`. */
  listenTls(
    request: BindRequest,
    settings: TlsServerSettings,
  ): object | undefined;
  /** Connects with the runtime's own TLS: its own TLS conn, before the handshake. */
  connectTls(
    port: number,
    settings: TlsClientSettings,
    signal?: AbortSignal,
  ): Promise<object>;
  /**
   * The runtime's own Unix listener on `path`, checked and bound as the
   * runtime's own listen does. Throws an `errors` class.
   */
  listenUnix?(path: string): object;
  /** Connects to the Unix socket at `path` with the runtime's own connect. */
  connectUnix?(path: string): Promise<object>;
  /**
   * The runtime's own UDP socket for `request`, or `undefined` where the
   * runtime has none (Deno without `--unstable-net`). Throws an `errors`
   * class.
   */
  listenDatagram?(request: UdpBindRequest): object | undefined;
}

/** A server's key pair and protocols, as `Deno.listenTls` takes them. */
export interface TlsServerSettings {
  /** The certificate chain, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
  /** ALPN protocols in the server's order of preference. */
  alpnProtocols?: string[];
}

/** A client's TLS settings, as `Deno.connectTls` / `Deno.startTls` take them. */
export interface TlsClientSettings {
  /** The name the certificate must be valid for, and the SNI sent. */
  hostname: string;
  /** PEM certificates trusted in place of the system's roots, when not empty. */
  caCerts: string[];
  /** ALPN protocols offered. */
  alpnProtocols?: string[];
  /** A client certificate chain and key, PEM. */
  cert?: string;
  key?: string;
  /** Skip the check that the certificate is valid for `hostname`. */
  unsafelyDisableHostnameVerification: boolean;
}

/**
 * What a finished handshake agreed, as `Deno.TlsHandshakeInfo`.
 *
 * @example
 * ```ts
 * import type { TlsHandshakeInfo } from "@reuseport/net";
 *
 * const info: TlsHandshakeInfo = { alpnProtocol: "h2" };
 * console.log(info.alpnProtocol);
 * ```
 */
export interface TlsHandshakeInfo {
  /** The protocol ALPN chose, or `null`. */
  alpnProtocol: string | null;
}

/**
 * A TLS stream. The handshake runs as data comes; reads, writes and
 * `handshake()` wait for it, and a failed one rejects them all.
 */
export interface TlsStream extends NativeStream {
  /** Resolves once the handshake is done. */
  handshake(): Promise<TlsHandshakeInfo>;
}

/** A server's settings, checked and compiled once for all its connections. */
export type TlsServerContext = object;

/** TLS as the ops layer uses it. */
export interface Tls {
  /** Compiles a server's settings: `InvalidData` if the key pair is not one. */
  serverContext(settings: TlsServerSettings): TlsServerContext;
  /**
   * A listening socket whose connections are TLS streams already, where the
   * runtime's own TLS listener can serve `request`; `undefined` where the
   * ops wrap each accepted TCP connection with `accept()` instead.
   */
  listen?(
    request: BindRequest,
    context: TlsServerContext,
  ): NativeListener | undefined;
  /** The server side of an accepted TCP connection. */
  accept(stream: NativeStream, context: TlsServerContext): TlsStream;
  /** The client side of a connected TCP stream (`startTls`). */
  start(stream: NativeStream, settings: TlsClientSettings): Promise<TlsStream>;
  /** Connects over TCP and starts TLS; resolves before the handshake ends. */
  connect(
    hostname: string,
    port: number,
    settings: TlsClientSettings,
    signal?: AbortSignal,
  ): Promise<TlsStream>;
}

/** A DNS question, checked by the ops the way Deno checks one. */
export interface DnsQuestion {
  /** The query as the caller gave it (native Deno parses it again). */
  query: string;
  /** The name to ask: ASCII (IDNA), absolute, with its trailing dot. */
  name: string;
  /** The name as Deno shows it in its `NotFound` message. */
  shown: string;
  /** The record type, one of `DNS_RECORD_TYPES`. */
  recordType: string;
  /** The server to ask; absent: the system's. */
  nameServer?: { ipAddr: string; port: number };
  /** Aborts the question. */
  signal?: AbortSignal;
}

/** A bound Unix datagram socket (`SOCK_DGRAM`). */
export interface NativeUnixDatagram {
  /** The bound path. */
  readonly addr: UnixAddress;
  /** Sends one datagram to `path`; resolves the bytes sent. */
  send(buf: Uint8Array, path: string): Promise<number>;
  /** The next datagram, into `buf`: the byte count and the sender's path. */
  receive(buf: Uint8Array): Promise<[number, string | null]>;
  /** Closes the socket; a pending `receive` rejects. */
  close(): void;
}

/** What a runtime offers of Unix domain sockets. */
export interface UnixSockets {
  /**
   * Binds and listens on `path` synchronously; throws an `errors` class.
   * `shared`: join the socket shared for the path by other threads or the
   * parallel runner's processes, where the runtime can (`path` is then
   * absolute).
   */
  listen(
    path: string,
    backlog: number,
    shared?: boolean,
  ): NativeListener<UnixAddress>;
  /** Connects to the socket at `path`. */
  connect(path: string): Promise<NativeStream<UnixAddress>>;
  /**
   * Binds a datagram socket at `path` (none: an unnamed socket, `addr.path`
   * null), where the runtime has them; absent where not, and
   * `datagramReason` says why.
   */
  listenDatagram?(path: string | undefined): NativeUnixDatagram;
  /** Why there are (or are not) Unix datagram sockets here, for messages. */
  readonly datagramReason: string;
}

/**
 * One record's data, as Deno's `resolveDns` gives it.
 *
 * @example
 * ```ts
 * import type { DnsRecord } from "@reuseport/net/ops";
 *
 * const records: DnsRecord[] = ["10.0.0.1", ["v=spf1 -all"], { preference: 10, exchange: "mail.test." }];
 * console.log(records.length);
 * ```
 */
export type DnsRecord =
  | string
  | string[]
  | Record<string, string | number | boolean>;

/** A connection accepted but not yet read: a handle that can move. */
export type RawConnection = object;

/** A listening socket that hands out raw connections, one `next()` at a time. */
export interface RawListener<A = SocketAddress> {
  /** The address the OS bound. */
  readonly addr: A;
  /** The next connection; rejects with an `errors` class, and once closed. */
  next(): Promise<RawConnection>;
  /** Whether a pending `next()` keeps the process alive. */
  setRef(ref: boolean): void;
  /** Closes the socket and the connections it holds. */
  close(): void;
  /**
   * Stops accepting without closing, where the socket can move to another
   * thread (`Handles.adopt` takes it there): the socket, and the
   * connections it holds.
   */
  release?(): { handle: object; queued: RawConnection[] };
}

/** What a runtime that can move connections offers for it. */
export interface Handles {
  /** Whether TCP connections can move between threads (not only processes). */
  readonly threads: boolean;
  /** Why they can or cannot, for messages. */
  readonly threadsReason: string;
  /**
   * Whether Unix socket connections can move between threads, and why (or
   * why not); absent: as TCP ones (`threads`).
   */
  readonly unixThreads?: { moves: boolean; reason: string };
  /**
   * Binds and listens synchronously, like `Runtime.listen` (a TCP address)
   * or `UnixSockets.listen` (a path).
   */
  bind(request: ShareRequest): RawListener<ShareAddress>;
  /**
   * A stream over a connection that arrived here; `unix`: the listener's
   * address, where the connection is a Unix socket's.
   */
  stream(
    raw: RawConnection,
    unix?: UnixAddress,
  ): NativeStream<ShareAddress>;
  /** Releases a connection that nobody will take. */
  close(raw: RawConnection): void;
  /** A listening socket that another thread released, listening here. */
  adopt?(
    handle: object,
    addr: ShareAddress,
    backlog: number,
  ): RawListener<ShareAddress>;
}

/** What to bind for UDP: always an IP literal. */
export interface UdpBindRequest extends SocketAddress {
  /** `SO_REUSEADDR` (Deno's `reuseAddress`). */
  reuseAddress: boolean;
  /** `SO_REUSEPORT`, where the kernel then balances (the kernel strategy). */
  reusePort: boolean;
  /** Whether multicast datagrams this socket sends loop back to it (Deno's `loopback`). */
  loopback: boolean;
  /**
   * Join the socket shared for this address by other threads or the
   * parallel runner's processes, where the runtime can (the emulated strategy).
   */
  shared?: boolean;
}

/** A datagram as it arrived: its bytes and who sent it. */
export interface Datagram {
  /** The payload; the receiver's own (not reused by the runtime). */
  readonly data: Uint8Array;
  /** The sender's address. */
  readonly from: SocketAddress;
}

/** A bound UDP socket that pushes what arrives to `onDatagram`. */
export interface NativeDatagramSocket {
  /** The address the OS bound. */
  readonly addr: SocketAddress;
  /** Sends `data` to `ip:port` (an IP literal of the socket's family); resolves the byte count. */
  send(data: Uint8Array, ip: string, port: number): Promise<number>;
  /** Joins an IPv4 multicast group on the interface with address `iface`. */
  joinMulticastV4(group: string, iface: string): void | Promise<void>;
  /** Leaves an IPv4 multicast group. */
  leaveMulticastV4(group: string, iface: string): void | Promise<void>;
  /** Joins an IPv6 multicast group on the interface with index `iface` (0: any). */
  joinMulticastV6(group: string, iface: number): void | Promise<void>;
  /** Leaves an IPv6 multicast group. */
  leaveMulticastV6(group: string, iface: number): void | Promise<void>;
  /** `IP_MULTICAST_LOOP` / `IPV6_MULTICAST_LOOP`. */
  setMulticastLoopback(on: boolean): void | Promise<void>;
  /** `IP_MULTICAST_TTL`. */
  setMulticastTTL(ttl: number): void | Promise<void>;
  /**
   * Whether a receive waits (`waiting`), and whether one that keeps the
   * process alive does (`ref`). A socket that pushes whatever arrives uses
   * only `ref`; one that reads on demand reads while `waiting`.
   * `receives`: how many receives wait (a socket shared across threads or
   * processes asks its owner for that many datagrams).
   */
  setDemand(waiting: boolean, ref: boolean, receives?: number): void;
  /**
   * Where the socket is shared across threads or processes: the datagrams
   * waiting at its owner for a receive, and those its owner dropped (its
   * queue full), as far as this member knows.
   */
  ownerStats?(): { queued: number; dropped: number };
  /**
   * Closes now; the port is free when this returns. `unread`: datagrams
   * that arrived and nobody received, which a socket shared across threads
   * or processes gives back to its owner for the others.
   */
  close(unread?: Datagram[]): void;
}

/** A runtime's UDP. */
export interface Udp {
  /** What it is built on (`node:dgram`, `Bun.udpSocket`, `Deno.listenDatagram`), for messages and tests. */
  readonly base: string;
  /**
   * Binds synchronously (throws an `errors` class); every datagram that
   * arrives goes to `onDatagram`, until `close()`.
   */
  bind(
    request: UdpBindRequest,
    onDatagram: (datagram: Datagram) => void,
  ): NativeDatagramSocket;
  /** Whether UDP sockets can bind with `SO_REUSEPORT` here, where the kernel balances, and why. */
  kernelSupport(): { supported: boolean; reason: string };
  /** Resolves a host name to an IP of `family` (4 or 6) for a send. */
  resolve(hostname: string, family: 4 | 6): Promise<string>;
}
