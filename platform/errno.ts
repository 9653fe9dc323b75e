/**
 * Turns OS errors into Deno's error classes with Deno's message form,
 * `<strerror text> (os error <errno>)`. Deno prints Rust's `io::Error`, whose
 * text is the C library's `strerror`; libuv's own texts differ ("address not
 * available" vs "Cannot assign requested address"), so the common ones are
 * listed here with glibc's wording.
 *
 * @module
 */
import { builtin } from "./builtin.ts";
import * as errors from "../core/errors.ts";

type ErrorClass = new (message: string) => Error;

/** Deno's class and glibc's text for the errno names a socket can report. */
const OS_ERRORS: Record<string, [ErrorClass, string]> = {
  EACCES: [errors.PermissionDenied, "Permission denied"],
  EADDRINUSE: [errors.AddrInUse, "Address already in use"],
  EADDRNOTAVAIL: [errors.AddrNotAvailable, "Cannot assign requested address"],
  EAFNOSUPPORT: [Error, "Address family not supported by protocol"],
  EAGAIN: [errors.WouldBlock, "Resource temporarily unavailable"],
  ECONNABORTED: [errors.ConnectionAborted, "Software caused connection abort"],
  ECONNREFUSED: [errors.ConnectionRefused, "Connection refused"],
  ECONNRESET: [errors.ConnectionReset, "Connection reset by peer"],
  EEXIST: [errors.AlreadyExists, "File exists"],
  EHOSTUNREACH: [Error, "No route to host"],
  EINTR: [errors.Interrupted, "Interrupted system call"],
  EINVAL: [TypeError, "Invalid argument"],
  EMFILE: [Error, "Too many open files"],
  EMSGSIZE: [Error, "Message too long"],
  ENETUNREACH: [errors.NetworkUnreachable, "Network is unreachable"],
  ENFILE: [Error, "Too many open files in system"],
  ENOBUFS: [Error, "No buffer space available"],
  ENOENT: [errors.NotFound, "No such file or directory"],
  ENOTCONN: [errors.NotConnected, "Transport endpoint is not connected"],
  ENOTSUP: [errors.NotSupported, "Operation not supported"],
  EOPNOTSUPP: [errors.NotSupported, "Operation not supported"],
  EPERM: [errors.PermissionDenied, "Operation not permitted"],
  EPIPE: [errors.BrokenPipe, "Broken pipe"],
  ETIMEDOUT: [errors.TimedOut, "Connection timed out"],
};

/** `getaddrinfo` failures, with glibc's `gai_strerror` texts, as Deno words them. */
const LOOKUP_ERRORS: Record<string, string> = {
  ENOTFOUND: "Name or service not known",
  EAI_NONAME: "Name or service not known",
  EAI_AGAIN: "Temporary failure in name resolution",
  EAI_FAIL: "Non-recoverable failure in name resolution",
  ENODATA: "No address associated with hostname",
  EAI_NODATA: "No address associated with hostname",
  EAI_FAMILY: "ai_family not supported",
  EAI_MEMORY: "Memory allocation failure",
};

/** The error Deno raises for `errno` (a positive OS error number) named `code`. */
export function osError(
  code: string,
  errno: number,
  fallbackText: string,
): Error {
  const [ErrorClass, text] = OS_ERRORS[code] ?? [Error, fallbackText];
  return new ErrorClass(`${text} (os error ${errno})`);
}

/** The error Deno raises when a host name does not resolve. */
export function lookupError(code: string | undefined): Error {
  const text = LOOKUP_ERRORS[code ?? ""] ?? "Name or service not known";
  return new Error(`failed to lookup address information: ${text}`);
}

/** The error Deno raises for a libuv status code (a negative errno). */
export function uvError(status: number): Error {
  const name = builtin("node:util").getSystemErrorName(status);
  const text = builtin("node:util").getSystemErrorMap().get(status)?.[1] ??
    name;
  return osError(name, -status, text[0].toUpperCase() + text.slice(1));
}

/** What a socket reports: an errno name in `code`, its number with either sign. */
interface CodedError {
  code?: unknown;
  errno?: number;
  syscall?: string;
  message: string;
}

/**
 * Deno's error for an error that names its errno in `code` (Bun's, a
 * `net.Socket`'s); the number comes from the OS table, as Bun reports it
 * with either sign. What has no errno name stays as it is.
 */
export function codeError(err: unknown): Error {
  const { code, errno, syscall, message } = err as CodedError;
  if (typeof code !== "string") return err as Error;
  if (syscall === "getaddrinfo" || code.startsWith("EAI_")) {
    return lookupError(code);
  }
  const errnos = builtin("node:os").constants.errno as Record<
    string,
    number | undefined
  >;
  const number = errnos[code] ?? Math.abs(errno ?? 0);
  return osError(code, number, message);
}

/**
 * Whether `err` is the peer's reset, which Deno reads as the end of the
 * stream (the next write then meets `EPIPE`).
 */
export function isReset(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === "ECONNRESET";
}
