/**
 * Every error that this package words itself, in Deno's words, by what went
 * wrong: one table, as Deno keeps its own in the `NetError` enum of
 * `ext/net/ops.rs` (and core's resource errors). OS errors get their text
 * from the OS table in `platform/errno.ts` instead.
 *
 * @module
 */
import {
  BadResource,
  BrokenPipe,
  Busy,
  Interrupted,
  InvalidData,
  NotConnected,
  UnexpectedEof,
} from "./errors.ts";

/** Deno's errors, each made fresh (with its own stack) where it is thrown. */
export const NetError = {
  /** An accept on, or of, a listener that is closed. */
  listenerClosed: (): BadResource =>
    new BadResource("Listener has been closed"),
  /** A second `accept()` while one is pending on the same listener. */
  acceptBusy: (): Busy => new Busy("Another accept task is ongoing"),
  /** A rid that is not open, or not of the kind the op wants. */
  badResourceId: (): BadResource => new BadResource("Bad resource ID"),
  /** A read or write cut short by `close()`. */
  canceled: (): Interrupted => new Interrupted("operation canceled"),
  /** A write after `closeWrite()`. */
  brokenPipe: (): BrokenPipe => new BrokenPipe("Broken pipe (os error 32)"),
  /** `read` / `write` given something that is not a `Uint8Array`. */
  notABuffer: (): TypeError => new TypeError("expected typed ArrayBufferView"),
  /** `listen` / `connect` with a transport other than TCP. */
  unsupportedTransport: (transport: unknown): TypeError =>
    new TypeError(`Unsupported transport: '${transport}'`),
  /** A port that is neither a number nor a string. */
  portNotANumber: (value: unknown): TypeError =>
    new TypeError(`Invalid port (expected number): ${value}`),
  /** A port that is not an integer; `shown` is it as Deno shows it. */
  invalidPort: (shown: string): TypeError =>
    new TypeError(`Invalid port: ${shown}`),
  /** An integer port outside the range. */
  portOutOfRange: (value: unknown): RangeError =>
    new RangeError(`Invalid port (out of range): ${value}`),
  /** `[...]` that is not an IPv6 address. */
  invalidIpv6: (hostname: string): URIError =>
    new URIError(`invalid IPv6 address: '${hostname}'`),
  /** An empty host name. */
  emptyHost: (hostname: string): URIError =>
    new URIError(`invalid empty host: '${hostname}'`),
  /** A host name with a character no DNS name has. */
  invalidHostChar: (hostname: string): URIError =>
    new URIError(`invalid host '${hostname}': invalid char found in FQDN`),
  /** A host name with an empty label (`a..b`). */
  emptyHostLabel: (hostname: string): URIError =>
    new URIError(`invalid host '${hostname}': empty label found in FQDN`),
  /** `startTls` on a connection with a read or write pending. */
  tcpStreamBusy: (): Busy => new Busy("TCP stream is currently in use"),
  /** A TLS server name that is not a DNS name or an IP address. */
  invalidHostname: (hostname: string): TypeError =>
    new TypeError(`Invalid hostname: '${hostname}'`),
  /** A `cert` with no PEM certificate in it. */
  noCertificates: (): InvalidData =>
    new InvalidData("No certificates found in certificate data"),
  /** A `key` with no PEM private key in it. */
  noKeys: (): InvalidData => new InvalidData("No keys found in key data"),
  /** `listenTls` without a key pair. */
  keyPairRequired: (api: string): TypeError =>
    new TypeError(`A key and certificate are required for \`${api}\``),
  /** `cert` without `key`, or `key` without `cert`. */
  keyPairHalf: (given: "cert" | "key", api: string): TypeError =>
    new TypeError(
      `If \`${given}\` is specified, \`${
        given === "cert" ? "key" : "cert"
      }\` must be specified as well for \`${api}\``,
    ),
  /** A `keyFormat` other than PEM. */
  keyFormatNotPem: (format: unknown): TypeError =>
    new TypeError(
      `If "keyFormat" is specified, it must be "pem": received "${format}"`,
    ),
  /** A TLS write after `closeWrite()`. */
  tlsWriteShut: (): NotConnected => new NotConnected("not connected"),
  /** A PEM certificate whose body does not decode. */
  badCertificate: (): InvalidData =>
    new InvalidData("Unable to decode certificate"),
  /** A PEM key whose body does not decode. */
  badKey: (): InvalidData => new InvalidData("Unable to decode key"),
  /** A key that is not the certificate's (Deno throws no class of its own). */
  keyMismatch: (): Error =>
    new Error("keys may not be consistent: KeyMismatch"),
  /** The peer went away during the TLS handshake. */
  tlsEof: (): UnexpectedEof => new UnexpectedEof("unexpected end of file"),
  /** A TLS failure, in rustls's words as Deno reports them. */
  tlsInvalid: (message: string): InvalidData => new InvalidData(message),
} as const;
