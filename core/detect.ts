/**
 * Which runtime this is, told by what only the runtime itself has. A global
 * `Deno` or `Bun` alone proves nothing: shims put one on Node
 * (`@deno/shim-deno`, this package's polyfill, `bun-polyfills`), and they
 * fake the obvious members too (`Deno.build`, `Deno.version`, `Bun.version`,
 * `process.versions.bun`, a `navigator.userAgent` of the runtime's).
 *
 * @module
 */

/**
 * Whether this is Deno itself, not a `Deno` that a shim or this package's
 * polyfill installed: Deno's own namespace keeps its internals under the
 * symbol it names `Deno.internal`, which no shim has any use for. `scope`
 * holds the globals: `globalThis`, or a stand-in in tests.
 */
export function isNativeDeno(scope: object = globalThis): boolean {
  const deno = (scope as { Deno?: { internal?: unknown } | null }).Deno;
  if (typeof deno !== "object" || deno === null) return false;
  const key = deno.internal;
  return typeof key === "symbol" && key.description === "Deno.internal" &&
    typeof (deno as Record<symbol, unknown>)[key] === "object";
}

/**
 * Whether this is Bun itself: Bun's global is an object of its own class,
 * `[object Bun]`, where a polyfill's is a plain object or a module namespace.
 * `scope` holds the globals, as for `isNativeDeno`.
 */
export function isBun(scope: object = globalThis): boolean {
  return Object.prototype.toString.call((scope as { Bun?: unknown }).Bun) ===
    "[object Bun]";
}
