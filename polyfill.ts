/**
 * `Deno.listen`, `Deno.connect`, `Deno.resolveDns` and `Deno.errors` for a program written for
 * Deno, on Node: importing this module for its side effect puts this
 * package's implementation on the global `Deno` (creating it if there is
 * none), so the program runs unmodified.
 *
 * On Deno it changes nothing unless asked (`installPolyfill({ override:
 * true })`). Where another `Deno` object exists (`@deno/shim-deno` installed
 * as a global), it adds what is missing and replaces `listen` / `connect`
 * only where they are absent or known to be broken, never the rest of the
 * object. The npm package ships global types for `Deno.listen` and friends
 * with this module, so tsc accepts the program on Node as well.
 *
 * @example An unmodified Deno echo server, on Deno or Node
 * ```ts
 * import "@reuseport/net/polyfill";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * (async () => {
 *   for await (const conn of listener) conn.readable.pipeTo(conn.writable);
 * })();
 * const conn = await Deno.connect({ port: listener.addr.port });
 * await conn.write(new TextEncoder().encode("ping"));
 * const buf = new Uint8Array(4);
 * await conn.read(buf);
 * console.log(new TextDecoder().decode(buf)); // "ping"
 * conn.close();
 * listener.close();
 * ```
 *
 * @module
 */
import {
  installInto,
  type PolyfillOptions,
  type PolyfillReport,
} from "./_polyfill.ts";
import { runtime } from "./ops/runtime.ts";

export type { PolyfillOptions, PolyfillReport };

/**
 * Installs `Deno.listen`, `Deno.connect` and `Deno.errors` from this package
 * on the global `Deno`, and reports what it did. Importing this module calls
 * it once with the defaults; call it again with `{ override: true }` to
 * replace working `listen` / `connect` too (Deno's own, for instance). The
 * rest of an existing `Deno` object is never touched, nor are its existing
 * error classes; ours are made to inherit from them, so `instanceof
 * Deno.errors.X` holds for what our functions throw.
 *
 * @example Use this package's `Deno.listen` on Deno too
 * ```ts
 * import { installPolyfill } from "@reuseport/net/polyfill";
 *
 * const report = installPolyfill({ override: true });
 * console.log(report.installed); // ["listen", "connect", "listenTls", …]
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, reusePort: true });
 * listener.close();
 * ```
 */
export function installPolyfill(options: PolyfillOptions = {}): PolyfillReport {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `installPolyfill: options must be an object, got ${String(options)}`,
    );
  }
  const { override = false } = options;
  if (typeof override !== "boolean") {
    throw new TypeError(
      `installPolyfill: options.override must be a boolean, got ${
        typeof override === "string" ? `"${override}"` : String(override)
      }`,
    );
  }
  return installInto(
    globalThis as { Deno?: unknown },
    runtime().nativeDenoApi,
    override,
  );
}

installPolyfill();
