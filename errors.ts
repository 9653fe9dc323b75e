/**
 * Deno's I/O error classes (`Deno.errors`, all of Deno 2.9's), for code that
 * runs on Node as well as on Deno: on Deno they derive from Deno's own, so
 * `instanceof Deno.errors.X` holds for what this package throws there too.
 * (They live in `core/errors.ts`, beneath every layer that throws them.)
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
export * from "./core/errors.ts";
