/**
 * Which runtime this is: the one place that tells Node from Deno and Bun.
 *
 * @module
 */
import { bunRuntime, onBun } from "./bun/mod.ts";
import { denoNamespace, denoRuntime } from "./deno/mod.ts";
import { nodeRuntime } from "./node/mod.ts";
import type { Runtime } from "./types.ts";

/** The runtime this process runs on, detected by feature, not by version. */
export function detectRuntime(): Runtime {
  return denoNamespace() ? denoRuntime : onBun() ? bunRuntime : nodeRuntime;
}
