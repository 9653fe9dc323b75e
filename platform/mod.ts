/**
 * Which runtime adapter this process uses: the one place that picks Deno's,
 * Bun's or Node's (`core/detect.ts` tells the runtimes apart).
 *
 * @module
 */
import { isBun, isNativeDeno } from "../core/detect.ts";
import { bunRuntime } from "./bun/mod.ts";
import { denoRuntime } from "./deno/mod.ts";
import { nodeRuntime } from "./node/mod.ts";
import type { Runtime } from "./types.ts";

/**
 * The runtime this process runs on, detected by feature, not by version nor
 * by a global `Deno` or `Bun` that a shim may have put there.
 */
export function detectRuntime(): Runtime {
  return isNativeDeno() ? denoRuntime : isBun() ? bunRuntime : nodeRuntime;
}
