/** Argument checks, as pure functions: Deno's classes and messages for each kind of bad input. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  literalAddress,
  validateHostname,
  validatePort,
} from "../../ops/_validate.ts";

test("validate: ports as Deno parses them", () => {
  assert.equal(validatePort(8080), 8080);
  assert.equal(validatePort("0x10"), 16);
  assert.equal(validatePort("80"), 80);
  const cases: [unknown, string, string][] = [
    [null, "TypeError", "Invalid port (expected number): null"],
    ["", "TypeError", "Invalid port: ''"],
    ["http", "TypeError", "Invalid port: 'http'"],
    [1.5, "TypeError", "Invalid port: 1.5"],
    ["1.5", "TypeError", "Invalid port: 1.5"],
    [65536, "RangeError", "Invalid port (out of range): 65536"],
    [-1, "RangeError", "Invalid port (out of range): -1"],
  ];
  for (const [value, name, message] of cases) {
    assert.throws(() => validatePort(value), { name, message }, String(value));
  }
  assert.throws(() => validatePort(0, 1), { name: "RangeError" });
});

test("validate: host names as Deno's address parser checks them", () => {
  assert.equal(validateHostname("[::1]"), "::1");
  assert.equal(validateHostname("example.com."), "example.com.");
  const cases: [string, string][] = [
    ["[127.0.0.1]", "invalid IPv6 address: '[127.0.0.1]'"],
    ["", "invalid empty host: ''"],
    ["a b", "invalid host 'a b': invalid char found in FQDN"],
    ["a..b", "invalid host 'a..b': empty label found in FQDN"],
  ];
  for (const [host, message] of cases) {
    assert.throws(() => validateHostname(host), { name: "URIError", message });
  }
});

test("validate: literals and localhost need no resolver", () => {
  assert.equal(literalAddress("::1"), "::1");
  assert.equal(literalAddress("LocalHost"), "127.0.0.1");
  assert.equal(literalAddress("example.com"), undefined);
});
