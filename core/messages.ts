/**
 * Every error that this package words itself, in Deno's words, by what went
 * wrong: one table, as Deno keeps its own in the `NetError` enum of
 * `ext/net/ops.rs` (and core's resource errors). OS errors get their text
 * from the OS table in `platform/errno.ts` instead.
 *
 * @module
 */
import { BadResource, BrokenPipe, Busy, Interrupted } from "./errors.ts";

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
  /** An op on a datagram socket that is closed (Deno's `NetError::SocketClosed`). */
  socketClosed: (): BadResource => new BadResource("Socket has been closed"),
  /** A datagram op given something other than a number where Deno's op wants one (a port). */
  expectedNumber: (): TypeError =>
    new TypeError("expected type `v8::data::Number`, got `v8::data::Value`"),
  /** A multicast group or interface that is not an IPv4 (`v6`: IPv6) literal. */
  invalidIpSyntax: (v6: boolean): Error =>
    new Error(`invalid IPv${v6 ? 6 : 4} address syntax`),
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
} as const;
