/**
 * The same scenarios on native Deno (the oracle) and on this package, on
 * whichever runtime runs this file: results must be equal in class, `name`
 * and message. Where we differ on purpose, the difference is asserted both
 * ways, so a change on either side is noticed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { connect, errors, listen } from "../mod.ts";
import { oracleResults } from "./_oracle_client.ts";
import { describeError, type NetApi, scenarios } from "./_scenarios.ts";

/** Where a Deno user's `Deno.errors` is the runtime's own: on Deno. */
const runtimeErrors = (globalThis as { Deno?: { errors?: object } }).Deno
  ?.errors;
const ours: NetApi = {
  listen,
  connect,
  errors: { ...(runtimeErrors ?? errors) },
};

for (const [name, scenario] of Object.entries(scenarios)) {
  test(`same as Deno: ${name}`, { timeout: 20_000 }, async () => {
    const expected = (await oracleResults())[name];
    // Through JSON, as the oracle's answers came.
    const actual = JSON.parse(JSON.stringify({ r: await scenario(ours) })).r;
    assert.deepEqual(actual, expected);
  });
}

test("differs from Deno on purpose: an unknown transport is a TypeError", async () => {
  const options = { port: 0, transport: "udp" } as unknown as Parameters<
    typeof listen
  >[0];
  let thrown: unknown;
  try {
    listen(options);
  } catch (err) {
    thrown = err;
  }
  assert.deepEqual(describeError(thrown), {
    class: "TypeError",
    name: "TypeError",
    message: "Unsupported transport: 'udp'",
  });
  await assert.rejects(
    connect(
      { port: 1, transport: "udp" } as unknown as Parameters<
        typeof connect
      >[0],
    ),
    { name: "TypeError", message: "Unsupported transport: 'udp'" },
  );
});

test("errors has every class of Deno.errors", async () => {
  const theirs = (await oracleResults())["the classes of Deno.errors"];
  assert.deepEqual(Object.keys(errors).sort(), theirs);
});
