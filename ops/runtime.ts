/**
 * The runtime the ops run on: this process's own (with socket sharing where
 * it can move connections), or a fake that a test puts in its place.
 *
 * @module
 */
import { detectRuntime } from "../platform/mod.ts";
import type { Runtime } from "../platform/types.ts";
import { withSharing } from "../sharing/mod.ts";

let current: Runtime | undefined;

/** The runtime in use; found on first use, not at import. */
export function runtime(): Runtime {
  current ??= withSharing(detectRuntime());
  return current;
}

/** Puts `fake` in place of the runtime (`undefined`: back to this process's own). */
export function setRuntime(fake: Runtime | undefined): void {
  current = fake;
}
