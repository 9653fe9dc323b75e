/**
 * Deno's own namespace, taken as this module loads: the functions the Deno
 * adapter calls, typed here so the npm build needs no Deno types, and its
 * errors turned into this package's classes.
 *
 * @module
 */
import { isNativeDeno } from "../../core/detect.ts";
import * as errors from "../../core/errors.ts";
import type { DnsRecord, SocketAddress, UnixAddress } from "../types.ts";
import type { DenoListenDatagram } from "./_udp.ts";

/** An address as Deno reports it: TCP's or a Unix socket's. */
export type DenoAddr = SocketAddress & UnixAddress;

/** The few members of Deno's namespace used here, typed locally so the npm build needs no Deno types. */
export interface DenoConn {
  readonly localAddr: DenoAddr;
  readonly remoteAddr: DenoAddr;
  read(buf: Uint8Array): Promise<number | null>;
  write(buf: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay(on: boolean): void;
  setKeepAlive(on: boolean): void;
  ref(): void;
  unref(): void;
}

export interface DenoListener<C = DenoConn> {
  readonly addr: DenoAddr;
  accept(): Promise<C>;
  close(): void;
  ref(): void;
  unref(): void;
}

/** A TLS connection of Deno's. */
export interface DenoTlsConn extends DenoConn {
  handshake(): Promise<{ alpnProtocol: string | null }>;
}

/** What `Deno.listenTls` is given here. */
export interface DenoListenTlsOptions {
  hostname: string;
  port: number;
  cert: string;
  key: string;
  alpnProtocols?: string[];
  tcpBacklog?: number;
}

/** What `Deno.connectTls` is given here. */
export interface DenoConnectTlsOptions {
  hostname: string;
  port: number;
  caCerts: string[];
  alpnProtocols?: string[];
  cert?: string;
  key?: string;
  unsafelyDisableHostnameVerification: boolean;
}

/** Deno's `DatagramConn` of a Unix datagram socket. */
export interface DenoDatagramConn {
  readonly addr: DenoAddr;
  send(
    buf: Uint8Array,
    addr: { transport: "unixpacket"; path: string },
  ): Promise<number>;
  receive(buf: Uint8Array): Promise<[Uint8Array, DenoAddr]>;
  close(): void;
}

export interface DenoNamespace {
  listen(
    options:
      | {
        hostname: string;
        port: number;
        tcpBacklog?: number;
        reusePort?: boolean;
      }
      | { transport: "unix"; path: string },
  ): DenoListener;
  connect(
    options:
      | { hostname: string; port: number; signal?: AbortSignal }
      | { transport: "unix"; path: string },
  ): Promise<DenoConn>;
  resolveDns(
    query: string,
    recordType: string,
    options?: {
      nameServer?: { ipAddr: string; port: number };
      signal?: AbortSignal;
    },
  ): Promise<DnsRecord[]>;
  /** Only with `--unstable-net`: UDP, and Unix datagrams. */
  listenDatagram?:
    & DenoListenDatagram
    & ((
      options: { transport: "unixpacket"; path: string },
    ) => DenoDatagramConn);
  listenTls(options: DenoListenTlsOptions): DenoListener<DenoTlsConn>;
  connectTls(options: DenoConnectTlsOptions): Promise<DenoTlsConn>;
  startTls(
    conn: DenoConn,
    options: Omit<DenoConnectTlsOptions, "port" | "cert" | "key">,
  ): Promise<DenoTlsConn>;
  errors: Record<string, new (...args: never[]) => Error>;
  build: { os: string };
  version: { deno: string };
  env: { get(name: string): string | undefined };
  permissions: {
    querySync(desc: { name: "env"; variable: string }): { state: string };
  };
}

/**
 * Deno's own `listen`, `connect` and `errors`, taken as this module loads,
 * when this runtime is Deno. A global `Deno` alone proves nothing: a shim
 * (`@deno/shim-deno`, this package's polyfill) puts one on Node, and on Deno
 * the polyfill with `override` replaces `Deno.listen` with ours, which must
 * not end up calling itself.
 */
const native: DenoNamespace | undefined = nativeDeno();

function nativeDeno(): DenoNamespace | undefined {
  if (!isNativeDeno()) return undefined;
  const deno = (globalThis as unknown as { Deno: DenoNamespace }).Deno;
  return {
    listen: deno.listen.bind(deno),
    connect: deno.connect.bind(deno),
    listenTls: deno.listenTls.bind(deno),
    connectTls: deno.connectTls.bind(deno),
    startTls: deno.startTls.bind(deno),
    resolveDns: deno.resolveDns.bind(deno),
    listenDatagram: typeof deno.listenDatagram === "function"
      ? deno.listenDatagram.bind(deno)
      : undefined,
    errors: { ...deno.errors },
    build: deno.build,
    version: deno.version,
    env: deno.env,
    permissions: deno.permissions,
  };
}

/** Deno's own networking functions and error classes, when this runtime is Deno. */
export function denoNamespace(): DenoNamespace | undefined {
  return native;
}

const ourErrors = errors as unknown as Record<
  string,
  new (message: string) => Error
>;

/** Makes an error of Deno's own classes one of ours too (ours derive from Deno's): the same object, stack and cause kept. */
export function translate(err: unknown): Error {
  const name = (err as Error)?.name;
  const DenoClass = denoNamespace()?.errors[name];
  if (DenoClass && err instanceof DenoClass && ourErrors[name]) {
    // Ours derive from Deno's: the same error, now also one of ours, keeps
    // its stack and cause.
    Object.setPrototypeOf(err, ourErrors[name].prototype);
  }
  return err as Error;
}

/** Throws `err` as one of our classes. */
export function rethrow(err: unknown): never {
  throw translate(err);
}
