/**
 * Runtime detection: native Deno and Bun are told apart from a global
 * `Deno` or `Bun` that a shim or this package's polyfill put there.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { test } from "node:test";
import { installInto } from "../../_polyfill.ts";
import { isBun, isNativeDeno } from "../../core/detect.ts";
import { detectRuntime } from "../../platform/mod.ts";
// For its effect: on Node and Bun it puts this package's `Deno` on the
// global, which must not make them look like Deno.
import "../../polyfill.ts";

// What the runtime itself reports: no shim in these tests touches it.
const deno = typeof process.versions.deno === "string";
const bun = typeof process.versions.bun === "string";

/** A global `Deno` as `@deno/shim-deno` makes it: the members a check might look at. */
function shimDeno(): Record<string, unknown> {
  class AddrInUse extends Error {}
  return {
    build: { os: "linux", arch: "x86_64", target: "x86_64-unknown-linux-gnu" },
    version: { deno: "2.9.6", v8: "15.0.245.2", typescript: "6.0.3" },
    errors: { AddrInUse },
    listen() {},
    connect() {},
    env: { get: () => undefined },
  };
}

test("detect: a fake global Deno is not Deno", () => {
  const fakes: unknown[] = [
    shimDeno(),
    { ...shimDeno(), internal: "Deno.internal" },
    { ...shimDeno(), internal: Symbol("Deno.internal") },
    { ...shimDeno(), internal: Symbol("another") },
    null,
    1,
  ];
  for (const fake of fakes) {
    assert.equal(isNativeDeno({ Deno: fake }), false, String(fake));
  }
  assert.equal(isNativeDeno({}), false);
});

test("detect: the polyfill's Deno is not Deno", () => {
  for (const scope of [{}, { Deno: shimDeno() }]) {
    installInto(scope, false, false);
    assert.equal(typeof scope.Deno, "object");
    assert.equal(isNativeDeno(scope), false);
  }
  // The global, after importing the polyfill: Deno's own on Deno, ours elsewhere.
  assert.ok("Deno" in globalThis);
  assert.equal(isNativeDeno(), deno);
});

test("detect: a fake global Bun is not Bun", () => {
  const fakes: unknown[] = [
    { version: "1.4.5", listen() {}, connect() {} },
    // `bun-polyfills` is a module namespace.
    { [Symbol.toStringTag]: "Module", version: "1.4.5", listen() {} },
    undefined,
  ];
  for (const fake of fakes) {
    assert.equal(isBun({ Bun: fake }), false, String(fake));
  }
});

test("detect: the runtime itself is recognised, and picks its adapter", () => {
  assert.equal(isNativeDeno(), deno);
  assert.equal(isBun(), bun);
  assert.equal(detectRuntime().name, deno ? "deno" : bun ? "bun" : "node");
});
