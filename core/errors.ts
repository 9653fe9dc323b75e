/**
 * Deno's I/O error classes (`Deno.errors`, all of Deno 2.9's), for code that
 * runs on Node as well as on Deno. On Deno each class derives from Deno's own
 * class of its name, so what this package throws passes both
 * `err instanceof errors.AddrInUse` and `err instanceof Deno.errors.AddrInUse`,
 * and so do the errors of Deno's own listeners and conns, which this package
 * hands out where nothing is emulated (check with `instanceof`: Deno's
 * `node:assert` compares prototypes in `throws(fn, errors.X)`);
 * elsewhere they are classes of their own (the polyfill makes them derive from
 * another shim's `Deno.errors` where there is one). Every class sets `name` to
 * its own class name, as Deno does.
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
import { isNativeDeno } from "./detect.ts";

/** A constructor of an error class, as `Deno.errors` holds them. */
type ErrorClass = new (message?: string, options?: ErrorOptions) => Error;

/** The classes of Deno 2.9's `Deno.errors`, every one of which is here. */
const NAMES = [
  "AddrInUse",
  "AddrNotAvailable",
  "AlreadyExists",
  "BadResource",
  "BrokenPipe",
  "Busy",
  "ConnectionAborted",
  "ConnectionRefused",
  "ConnectionReset",
  "FilesystemLoop",
  "Http",
  "Interrupted",
  "InvalidData",
  "IsADirectory",
  "NetworkUnreachable",
  "NotADirectory",
  "NotCapable",
  "NotConnected",
  "NotFound",
  "NotSupported",
  "PermissionDenied",
  "TimedOut",
  "UnexpectedEof",
  "WouldBlock",
  "WriteZero",
] as const;

type ErrorName = typeof NAMES[number];

/** Off Deno: sets `name` to the concrete class's name, as Deno's classes do. */
class DenoError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Deno's own `Deno.errors`, when this runtime is Deno. A global `Deno` alone
 * proves nothing: a shim, or this package's polyfill, puts one on Node.
 */
function nativeErrors(): Partial<Record<ErrorName, ErrorClass>> | undefined {
  if (!isNativeDeno()) return;
  return (globalThis as { Deno?: { errors?: Record<ErrorName, ErrorClass> } })
    .Deno?.errors;
}

/**
 * What each class derives from: on Deno, Deno's class of the same name, so
 * that what this package throws passes `instanceof Deno.errors.X` there (Deno's
 * constructors set `name` themselves); elsewhere a plain base.
 */
const bases: Record<ErrorName, ErrorClass> = baseClasses(nativeErrors());

function baseClasses(
  native: Partial<Record<ErrorName, ErrorClass>> | undefined,
): Record<ErrorName, ErrorClass> {
  return Object.fromEntries(
    NAMES.map((name) => {
      const theirs = native?.[name];
      return [name, typeof theirs === "function" ? alike(theirs) : DenoError];
    }),
  ) as Record<ErrorName, ErrorClass>;
}

/**
 * A base between Deno's class `theirs` and ours, through which ours also
 * counts Deno's own errors of the class as its instances: what Deno's own
 * listeners and conns throw, where they are handed out as they are, passes
 * `instanceof errors.X` as ours do. A program's subclass of ours keeps the
 * ordinary `instanceof`.
 */
function alike(theirs: ErrorClass): ErrorClass {
  const base = class extends theirs {
    static override [Symbol.hasInstance](value: unknown): boolean {
      return Function.prototype[Symbol.hasInstance].call(this, value) ||
        (Object.getPrototypeOf(this) === base && value instanceof theirs);
    }
  };
  return base;
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
export class AddrInUse extends bases.AddrInUse {}

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
export class AddrNotAvailable extends bases.AddrNotAvailable {}

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
export class AlreadyExists extends bases.AlreadyExists {}

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
 * assert.throws(() => listener.close(), (err) => err instanceof errors.BadResource);
 * ```
 */
export class BadResource extends bases.BadResource {}

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
 * await assert.rejects(client.write(new Uint8Array(1)), (err) => err instanceof errors.BrokenPipe);
 * client.close();
 * server.close();
 * listener.close();
 * ```
 */
export class BrokenPipe extends bases.BrokenPipe {}

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
 * await assert.rejects(listener.accept(), (err) => err instanceof errors.Busy);
 * listener.close();
 * await assert.rejects(first, (err) => err instanceof errors.BadResource);
 * ```
 */
export class Busy extends bases.Busy {}

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
export class ConnectionAborted extends bases.ConnectionAborted {}

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
export class ConnectionRefused extends bases.ConnectionRefused {}

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
export class ConnectionReset extends bases.ConnectionReset {}

/**
 * Too many symbolic links were met resolving a path: `ELOOP`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.FilesystemLoop("what went wrong");
 * assert.equal(err.name, "FilesystemLoop");
 * assert.ok(err instanceof Error);
 * ```
 */
export class FilesystemLoop extends bases.FilesystemLoop {}

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
export class Http extends bases.Http {}

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
 * await assert.rejects(pending, (err) => err instanceof errors.Interrupted);
 * server.close();
 * listener.close();
 * ```
 */
export class Interrupted extends bases.Interrupted {}

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
export class InvalidData extends bases.InvalidData {}

/**
 * A file operation met a directory: `EISDIR`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.IsADirectory("what went wrong");
 * assert.equal(err.name, "IsADirectory");
 * assert.ok(err instanceof Error);
 * ```
 */
export class IsADirectory extends bases.IsADirectory {}

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
export class NetworkUnreachable extends bases.NetworkUnreachable {}

/**
 * A path that needs to be a directory is not one: `ENOTDIR`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errors } from "@reuseport/net";
 *
 * const err = new errors.NotADirectory("what went wrong");
 * assert.equal(err.name, "NotADirectory");
 * assert.ok(err instanceof Error);
 * ```
 */
export class NotADirectory extends bases.NotADirectory {}

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
export class NotCapable extends bases.NotCapable {}

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
export class NotConnected extends bases.NotConnected {}

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
export class NotFound extends bases.NotFound {}

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
export class NotSupported extends bases.NotSupported {}

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
export class PermissionDenied extends bases.PermissionDenied {}

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
export class TimedOut extends bases.TimedOut {}

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
export class UnexpectedEof extends bases.UnexpectedEof {}

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
export class WouldBlock extends bases.WouldBlock {}

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
export class WriteZero extends bases.WriteZero {}
