/**
 * `core/datagram_queue.ts` on its own: each datagram to exactly one
 * receiver, the one that waited longest whichever member it belongs to; a
 * bounded queue while nobody waits, drops beyond it counted; a member's
 * close rejects its own receivers only.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DatagramQueue } from "../../core/datagram_queue.ts";
import { NetError } from "../../core/messages.ts";

/** A receive that takes the datagram as it is. */
const same = <T>(item: T): T => item;

test("datagram queue: receivers are served in the order they asked, across members", async () => {
  let changes = 0;
  const queue = new DatagramQueue<string, string>(
    { datagrams: 4, bytes: 100 },
    () => changes++,
  );
  const a1 = queue.take("a", same);
  const b1 = queue.take("b", same);
  const a2 = queue.take("a", same);
  assert.deepEqual(queue.waitingMembers(), ["a", "b", "a"]);
  for (const d of ["x", "y", "z"]) assert.equal(queue.push(d, 1), true);
  assert.deepEqual(await Promise.all([a1, b1, a2]), ["x", "y", "z"]);
  assert.equal(queue.delivered, 3);
  assert.deepEqual(queue.waitingMembers(), []);
  assert.ok(changes >= 6);
});

test("datagram queue: bounded by count and by bytes; beyond, new datagrams are dropped and counted", async () => {
  const queue = new DatagramQueue<number, string>(
    { datagrams: 3, bytes: 10 },
    () => {},
  );
  assert.equal(queue.push(1, 4), true);
  assert.equal(queue.push(2, 4), true);
  assert.equal(queue.push(3, 4), false); // 12 bytes > 10
  assert.equal(queue.push(4, 1), true);
  assert.equal(queue.push(5, 1), false); // a fourth datagram
  assert.equal(queue.queued, 3);
  assert.equal(queue.dropped, 2);
  // The oldest first; room again once taken.
  assert.equal(await queue.take("m", same), 1);
  assert.equal(queue.push(6, 4), true);
  assert.deepEqual(
    [
      await queue.take("m", same),
      await queue.take("m", same),
      await queue.take("m", same),
    ],
    [2, 4, 6],
  );
  queue.push(7, 1);
  queue.clear();
  assert.equal(queue.queued, 0);
});

test("datagram queue: cancelling a member rejects its receivers only", async () => {
  const queue = new DatagramQueue<string, string>(
    { datagrams: 4, bytes: 100 },
    () => {},
  );
  const a = queue.take("a", same);
  const b = queue.take("b", same);
  queue.cancel("a", NetError.canceled);
  await assert.rejects(a, {
    name: "Interrupted",
    message: "operation canceled",
  });
  queue.push("d", 1);
  assert.equal(await b, "d");
  // Nothing of its own waiting: nothing happens.
  queue.cancel("a", NetError.canceled);
});

test("datagram queue: take maps the datagram as it is taken, queued or pushed later", async () => {
  const queue = new DatagramQueue<number, string>(
    { datagrams: 4, bytes: 100 },
    () => {},
  );
  const seen: number[] = [];
  const waiting = queue.take("m", (n) => {
    seen.push(n);
    return n * 10;
  });
  assert.equal(queue.waiting, 1);
  assert.equal(queue.someWaiting((m) => m === "m"), true);
  assert.equal(queue.someWaiting((m) => m === "other"), false);
  queue.push(3, 1);
  // Mapped when pushed, before the promise settles.
  assert.deepEqual(seen, [3]);
  assert.equal(queue.waiting, 0);
  assert.equal(await waiting, 30);
  queue.push(4, 1);
  assert.equal(await queue.take("m", (n) => n + 1), 5);
});

test("datagram queue: a bounded cancel keeps the others in order; map gets its two arguments", async () => {
  let changes = 0;
  const queue = new DatagramQueue<number, string>(
    { datagrams: 4, bytes: 100 },
    () => changes++,
  );
  const tag = (n: number, a: string, b: number): string => `${a}${n * b}`;
  const a1 = queue.take("a", tag, "a1:", 1);
  const b1 = queue.take("b", tag, "b1:", 10);
  const a2 = queue.take("a", tag, "a2:", 100);
  const c1 = queue.take("c", tag, "c1:", 1000);
  assert.equal(queue.cancel("a", NetError.canceled, 1), 1);
  await assert.rejects(a1, { name: "Interrupted" });
  assert.deepEqual(queue.waitingMembers(), ["b", "a", "c"]);
  assert.equal(queue.waiting, 3);
  for (const n of [1, 2, 3]) queue.push(n, 1);
  assert.deepEqual(await Promise.all([b1, a2, c1]), [
    "b1:10",
    "a2:200",
    "c1:3000",
  ]);
  assert.equal(queue.waiting, 0);
  // Emptied, the list takes new receivers at its end again.
  const b2 = queue.take("b", tag, "b2:", 1);
  const b3 = queue.take("b", tag, "b3:", 2);
  assert.equal(queue.cancel("b", NetError.canceled), 2);
  await assert.rejects(b2, { name: "Interrupted" });
  await assert.rejects(b3, { name: "Interrupted" });
  assert.deepEqual(queue.waitingMembers(), []);
  const a3 = queue.take("a", tag, "a3:", 5);
  queue.push(4, 1);
  assert.equal(await a3, "a3:20");
  assert.ok(changes >= 10);
});
