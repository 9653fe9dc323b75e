/**
 * The few members of Bun's global used here, typed locally so that neither
 * the JSR module nor the npm build needs Bun's types (whether this runtime
 * is Bun, `core/detect.ts` tells).
 *
 * @module
 */

/** A Bun TCP socket, as the callbacks of `Bun.listen` / `Bun.connect` get it. */
export interface BunSocket {
  /** Whatever this package hangs on the socket: its stream. */
  data: unknown;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Bytes the kernel took now (Bun keeps none back); less under backpressure. */
  write(data: Uint8Array): number;
  /** Half-close: sends FIN, reading goes on. */
  shutdown(): void;
  /** Closes the socket now (a FIN; `terminate()` would reset the peer). */
  end(): void;
  /** Closes the socket now, a reset if anything is left unsaid. */
  terminate(): void;
  pause(): void;
  resume(): void;
  ref(): void;
  unref(): void;
  setNoDelay(on: boolean): boolean;
  setKeepAlive(on: boolean, delayMs?: number): boolean;
  /**
   * TLS over this connection: `[this socket, the TLS socket]`; the bytes
   * read ahead (a ClientHello) go in as `initialData`.
   */
  upgradeTLS(options: {
    tls: BunTlsOptions;
    isServer: boolean;
    socket: SocketHandlers;
    data?: unknown;
    initialData?: Uint8Array;
  }): [BunSocket, BunSocket] | undefined;
  /** The protocol ALPN agreed on, once a TLS socket's handshake is done. */
  readonly alpnProtocol?: string | false | null;
  /** A TLS socket's peer certificate, as `node:tls` describes one. */
  getPeerCertificate?(): { subjectaltname?: string; valid_to?: string };
}

/** A key pair and ALPN's protocols, as Bun's TLS takes them. */
export interface BunTlsOptions {
  /** A server's certificate chain, or a client's. */
  cert?: string;
  key?: string;
  /** A client's trusted CAs; Bun's bundled roots without. */
  ca?: string[];
  /** The name a client sends as SNI. */
  serverName?: string;
  /** False: a client's verification is done here, on the handshake. */
  rejectUnauthorized?: boolean;
  /** ALPN's wire format: each protocol preceded by its length. */
  ALPNProtocols?: Uint8Array;
}

/** A Bun error: an `Error` with the errno name and number of the failure. */
export interface BunError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
}

/** The callbacks Bun calls for every socket of a listener or a connect. */
export interface SocketHandlers {
  open?(socket: BunSocket): void;
  data(socket: BunSocket, chunk: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  error(socket: BunSocket, err: BunError): void;
  close(socket: BunSocket, err?: BunError): void;
  connectError?(socket: BunSocket, err: BunError): void;
  /** A TLS socket's handshake ended: `success`, or failed with `err`. */
  handshake?(socket: BunSocket, success: boolean, err: BunError | null): void;
}

/** A listening socket of `Bun.listen`. */
export interface BunServer {
  readonly port: number;
  getsockname(out: Record<string, unknown>): void;
  /** Closes the listening socket; the port is free when this returns. */
  stop(closeActiveConnections?: boolean): void;
  ref(): void;
  unref(): void;
}

/** The parts of Bun's global this package uses. */
export interface BunGlobal {
  version: string;
  listen(options: {
    hostname: string;
    port: number;
    reusePort?: boolean;
    allowHalfOpen?: boolean;
    socket: SocketHandlers;
  }): BunServer;
  /** `Bun.listen` on a Unix socket (`unix`: its path). */
  listen(options: {
    unix: string;
    allowHalfOpen?: boolean;
    socket: SocketHandlers;
  }): BunServer;
  connect(options: {
    hostname: string;
    port: number;
    allowHalfOpen?: boolean;
    socket: SocketHandlers;
  }): Promise<BunSocket>;
  /** `Bun.connect` to a Unix socket. */
  connect(options: {
    unix: string;
    allowHalfOpen?: boolean;
    socket: SocketHandlers;
  }): Promise<BunSocket>;
}
