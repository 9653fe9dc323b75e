/**
 * Deno's I/O error classes (`Deno.errors`), for code that runs on Node as well
 * as on Deno. Every class sets `name` to its own class name, as Deno does, so
 * `err.name === "AddrInUse"` and `err instanceof errors.AddrInUse` both work.
 *
 * @example Catch a taken port
 * ```ts
 * import { errors, listen } from "@reuseport/net";
 *
 * const first = listen({ hostname: "127.0.0.1", port: 0 });
 * try {
 *   listen({ hostname: "127.0.0.1", port: first.addr.port });
 * } catch (err) {
 *   console.assert(err instanceof errors.AddrInUse);
 * } finally {
 *   first.close();
 * }
 * ```
 *
 * @module
 */

/** Common base: sets `name` to the concrete class's name, as Deno's classes do. */
abstract class DenoError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The address (host and port) is taken by another socket: `EADDRINUSE`. */
export class AddrInUse extends DenoError {}
/** The address is not one of this machine's: `EADDRNOTAVAIL`. */
export class AddrNotAvailable extends DenoError {}
/** An operation already exists: `EEXIST`. */
export class AlreadyExists extends DenoError {}
/** The resource id is unknown or already closed, or the listener was closed. */
export class BadResource extends DenoError {}
/** Writing to a stream whose write side was shut down or whose peer is gone: `EPIPE`. */
export class BrokenPipe extends DenoError {}
/** The resource is in use by another pending operation (a second `accept()`). */
export class Busy extends DenoError {}
/** The peer aborted the connection: `ECONNABORTED`. */
export class ConnectionAborted extends DenoError {}
/** Nothing listens at the address: `ECONNREFUSED`. */
export class ConnectionRefused extends DenoError {}
/** The peer reset the connection: `ECONNRESET`. */
export class ConnectionReset extends DenoError {}
/** An HTTP-level error (kept for parity with `Deno.errors`). */
export class Http extends DenoError {}
/** The operation was cancelled, e.g. a pending `read()` when the conn closes. */
export class Interrupted extends DenoError {}
/** Data was not valid for the operation. */
export class InvalidData extends DenoError {}
/** The network is unreachable: `ENETUNREACH`. */
export class NetworkUnreachable extends DenoError {}
/** A permission flag or capability is missing. */
export class NotCapable extends DenoError {}
/** The socket is not connected: `ENOTCONN`. */
export class NotConnected extends DenoError {}
/** Something was not found: `ENOENT`. */
export class NotFound extends DenoError {}
/** The operation is not supported here: `ENOTSUP`. */
export class NotSupported extends DenoError {}
/** The OS refused the operation: `EACCES` or `EPERM`. */
export class PermissionDenied extends DenoError {}
/** The operation timed out: `ETIMEDOUT`. */
export class TimedOut extends DenoError {}
/** The stream ended before the expected data arrived. */
export class UnexpectedEof extends DenoError {}
/** The operation would block: `EAGAIN`. */
export class WouldBlock extends DenoError {}
/** A write accepted zero bytes. */
export class WriteZero extends DenoError {}
