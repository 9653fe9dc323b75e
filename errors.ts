/**
 * Deno's I/O error classes (`Deno.errors`), for code that runs on Node as well
 * as on Deno. Every class sets `name` to its own class name, as Deno does, so
 * `err.name === "AddrInUse"` and `err instanceof errors.AddrInUse` both work.
 *
 * @example Catch a taken port
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors, listen } from "@reuseport/net";
 *
 * const first = listen({ hostname: "127.0.0.1", port: 0 });
 * try {
 *   listen({ hostname: "127.0.0.1", port: first.addr.port });
 * } catch (err) {
 *   assert(err instanceof errors.AddrInUse);
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

/**
 * The address (host and port) is taken by another socket: `EADDRINUSE`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors, listen } from "@reuseport/net";
 *
 * const first = listen({ hostname: "127.0.0.1", port: 0 });
 * assert.throws(
 *   () => listen({ hostname: "127.0.0.1", port: first.addr.port }),
 *   errors.AddrInUse,
 * );
 * first.close();
 * ```
 */
export class AddrInUse extends DenoError {}

/**
 * The address is not one of this machine's: `EADDRNOTAVAIL`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.AddrNotAvailable("what went wrong");
 * assert.equal(err.name, "AddrNotAvailable");
 * assert.ok(err instanceof Error);
 * ```
 */
export class AddrNotAvailable extends DenoError {}

/**
 * An operation already exists: `EEXIST`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.AlreadyExists("what went wrong");
 * assert.equal(err.name, "AlreadyExists");
 * assert.ok(err instanceof Error);
 * ```
 */
export class AlreadyExists extends DenoError {}

/**
 * The resource id is unknown or already closed, or the listener was closed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors, listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * listener.close();
 * assert.throws(() => listener.close(), errors.BadResource);
 * ```
 */
export class BadResource extends DenoError {}

/**
 * Writing to a stream whose write side was shut down or whose peer is gone: `EPIPE`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, errors, listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * const client = await connect({ port: listener.addr.port });
 * const server = await listener.accept();
 * await client.closeWrite();
 * await assert.rejects(client.write(new Uint8Array(1)), errors.BrokenPipe);
 * client.close();
 * server.close();
 * listener.close();
 * ```
 */
export class BrokenPipe extends DenoError {}

/**
 * The resource is in use by another pending operation (a second `accept()`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors, listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * const first = listener.accept();
 * await assert.rejects(listener.accept(), errors.Busy);
 * listener.close();
 * await assert.rejects(first, errors.BadResource);
 * ```
 */
export class Busy extends DenoError {}

/**
 * The peer aborted the connection: `ECONNABORTED`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.ConnectionAborted("what went wrong");
 * assert.equal(err.name, "ConnectionAborted");
 * assert.ok(err instanceof Error);
 * ```
 */
export class ConnectionAborted extends DenoError {}

/**
 * Nothing listens at the address: `ECONNREFUSED`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, errors, listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * const { port } = listener.addr;
 * listener.close(); // nothing listens on `port` now
 * await assert.rejects(connect({ port }), errors.ConnectionRefused);
 * ```
 */
export class ConnectionRefused extends DenoError {}

/**
 * The peer reset the connection: `ECONNRESET`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.ConnectionReset("what went wrong");
 * assert.equal(err.name, "ConnectionReset");
 * assert.ok(err instanceof Error);
 * ```
 */
export class ConnectionReset extends DenoError {}

/**
 * An HTTP-level error (kept for parity with `Deno.errors`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.Http("what went wrong");
 * assert.equal(err.name, "Http");
 * assert.ok(err instanceof Error);
 * ```
 */
export class Http extends DenoError {}

/**
 * The operation was cancelled, e.g. a pending `read()` when the conn closes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, errors, listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * const client = await connect({ port: listener.addr.port });
 * const server = await listener.accept();
 * const pending = client.read(new Uint8Array(8));
 * client.close();
 * await assert.rejects(pending, errors.Interrupted);
 * server.close();
 * listener.close();
 * ```
 */
export class Interrupted extends DenoError {}

/**
 * Data was not valid for the operation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.InvalidData("what went wrong");
 * assert.equal(err.name, "InvalidData");
 * assert.ok(err instanceof Error);
 * ```
 */
export class InvalidData extends DenoError {}

/**
 * The network is unreachable: `ENETUNREACH`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.NetworkUnreachable("what went wrong");
 * assert.equal(err.name, "NetworkUnreachable");
 * assert.ok(err instanceof Error);
 * ```
 */
export class NetworkUnreachable extends DenoError {}

/**
 * A permission flag or capability is missing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.NotCapable("what went wrong");
 * assert.equal(err.name, "NotCapable");
 * assert.ok(err instanceof Error);
 * ```
 */
export class NotCapable extends DenoError {}

/**
 * The socket is not connected: `ENOTCONN`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.NotConnected("what went wrong");
 * assert.equal(err.name, "NotConnected");
 * assert.ok(err instanceof Error);
 * ```
 */
export class NotConnected extends DenoError {}

/**
 * Something was not found: `ENOENT`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.NotFound("what went wrong");
 * assert.equal(err.name, "NotFound");
 * assert.ok(err instanceof Error);
 * ```
 */
export class NotFound extends DenoError {}

/**
 * The operation is not supported here: `ENOTSUP`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.NotSupported("what went wrong");
 * assert.equal(err.name, "NotSupported");
 * assert.ok(err instanceof Error);
 * ```
 */
export class NotSupported extends DenoError {}

/**
 * The OS refused the operation: `EACCES` or `EPERM`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.PermissionDenied("what went wrong");
 * assert.equal(err.name, "PermissionDenied");
 * assert.ok(err instanceof Error);
 * ```
 */
export class PermissionDenied extends DenoError {}

/**
 * The operation timed out: `ETIMEDOUT`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.TimedOut("what went wrong");
 * assert.equal(err.name, "TimedOut");
 * assert.ok(err instanceof Error);
 * ```
 */
export class TimedOut extends DenoError {}

/**
 * The stream ended before the expected data arrived.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.UnexpectedEof("what went wrong");
 * assert.equal(err.name, "UnexpectedEof");
 * assert.ok(err instanceof Error);
 * ```
 */
export class UnexpectedEof extends DenoError {}

/**
 * The operation would block: `EAGAIN`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.WouldBlock("what went wrong");
 * assert.equal(err.name, "WouldBlock");
 * assert.ok(err instanceof Error);
 * ```
 */
export class WouldBlock extends DenoError {}

/**
 * A write accepted zero bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.WriteZero("what went wrong");
 * assert.equal(err.name, "WriteZero");
 * assert.ok(err instanceof Error);
 * ```
 */
export class WriteZero extends DenoError {}
