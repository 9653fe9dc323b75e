/**
 * Bun's socket errors as Deno's classes with Deno's messages. Bun reports
 * the errno name in `code` but its number with either sign (`-111` from a
 * connect, `98` from a listen), so the number comes from the OS table.
 *
 * @module
 */
import { constants } from "node:os";
import { lookupError, osError } from "../errno.ts";
import type { BunError } from "./_bun.ts";

const ERRNO = constants.errno as Record<string, number | undefined>;

/** Deno's error for what Bun threw or reported; what has no errno name stays as it is. */
export function bunError(err: unknown): Error {
  const { code, errno, syscall, message } = err as BunError;
  if (typeof code !== "string") return err as Error;
  if (syscall === "getaddrinfo" || code.startsWith("EAI_")) {
    return lookupError(code);
  }
  const number = ERRNO[code] ?? Math.abs(errno ?? 0);
  return osError(code, number, message);
}

/**
 * Whether `err` is the peer's reset, which Deno reads as the end of the
 * stream (the next write then meets `EPIPE`).
 */
export function isReset(err: unknown): boolean {
  return (err as BunError | undefined)?.code === "ECONNRESET";
}
