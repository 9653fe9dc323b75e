/** Arrivals: accepted connections held for a pull-based `next()`, in order, errors in place. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Arrivals } from "../../core/arrivals.ts";
import { errors } from "../../mod.ts";

const closed = { name: "BadResource", message: "Listener has been closed" };

test("arrivals: what arrived before anyone asked is taken in order; a waiting next() gets the next arrival", async () => {
  const a = new Arrivals<string>();
  a.push("one");
  a.push("two");
  assert.equal(await a.next(), "one");
  assert.equal(await a.next(), "two");
  const waiting = a.next();
  a.push("three");
  assert.equal(await waiting, "three");
});

test("arrivals: an accept error rejects the next() whose turn it is, and the one after still gets a connection", async () => {
  const a = new Arrivals<string>();
  a.push("one");
  a.push(new errors.ConnectionAborted("Software caused connection abort"));
  a.push("two");
  assert.equal(await a.next(), "one");
  await assert.rejects(a.next(), errors.ConnectionAborted);
  assert.equal(await a.next(), "two");
});

test("arrivals: close() rejects the pending next() and later ones with BadResource, returns what was held once", async () => {
  const a = new Arrivals<string>();
  const pending = a.next();
  a.push("taken");
  assert.equal(await pending, "taken");
  const waiting = a.next();
  assert.deepEqual(a.close(), []);
  await assert.rejects(waiting, closed);
  const b = new Arrivals<string>();
  b.push("held");
  b.push(new Error("dropped: not a connection"));
  assert.equal(b.closed, false);
  assert.deepEqual(b.close(), ["held"]);
  assert.equal(b.closed, true);
  assert.deepEqual(b.close(), []);
  await assert.rejects(b.next(), closed);
});
