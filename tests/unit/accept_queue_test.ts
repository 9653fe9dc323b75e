/** The one accept queue, with a fake source: who gets which connection, and when. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AcceptQueue } from "../../core/accept_queue.ts";
import { errors } from "../../mod.ts";
import { FakeSource, settle } from "./_fakes.ts";

function queue(): {
  source: FakeSource<number>;
  q: AcceptQueue<number, string>;
  disposed: number[];
} {
  const source = new FakeSource<number>();
  const disposed: number[] = [];
  const q = new AcceptQueue<number, string>(source, (n) => disposed.push(n));
  return { source, q, disposed };
}

/** `member` waits; the promise settles with its connection or error. */
function want(
  q: AcceptQueue<number, string>,
  member: string,
  refed = true,
): Promise<number> {
  return new Promise((resolve, reject) =>
    q.want(member, refed, resolve, reject)
  );
}

test("accept queue: nothing is pulled from the source until a member waits", async () => {
  const { source, q } = queue();
  q.join("a");
  source.arrive(1);
  await settle();
  assert.equal(source.pulls, 0);
  assert.equal(await want(q, "a"), 1);
  assert.equal(source.pulls, 1);
});

test("accept queue: each connection goes to exactly one waiting member, in turn", async () => {
  const { source, q } = queue();
  for (const m of ["a", "b", "c"]) q.join(m);
  const got: string[] = [];
  const round = () =>
    Promise.all(
      ["a", "b", "c"].map(async (m) => got.push(`${m}${await want(q, m)}`)),
    );
  const first = round();
  for (const n of [1, 2, 3]) source.arrive(n);
  await first;
  const second = round();
  for (const n of [4, 5, 6]) source.arrive(n);
  await second;
  assert.deepEqual(got, ["a1", "b2", "c3", "a4", "b5", "c6"]);
});

test("accept queue: a source error goes to the first waiter only; the next still gets a connection", async () => {
  const { source, q } = queue();
  q.join("a");
  q.join("b");
  const a = want(q, "a");
  const b = want(q, "b");
  await settle();
  source.fail(
    new errors.ConnectionAborted(
      "Software caused connection abort (os error 103)",
    ),
  );
  await assert.rejects(a, errors.ConnectionAborted);
  source.arrive(7);
  assert.equal(await b, 7);
});

test("accept queue: a member that leaves hears BadResource; the others keep waiting", async () => {
  const { source, q } = queue();
  q.join("a");
  q.join("b");
  const a = want(q, "a");
  const b = want(q, "b");
  assert.equal(q.leave("a"), false);
  await assert.rejects(a, {
    name: "BadResource",
    message: "Listener has been closed",
  });
  source.arrive(9);
  assert.equal(await b, 9);
  assert.equal(q.size, 1);
});

test("accept queue: the last one out closes; its wait rejects after the pending pull settles", async () => {
  const { source, q } = queue();
  q.join("a");
  const a = want(q, "a");
  await settle();
  let rejected = false;
  a.catch(() => rejected = true);
  assert.equal(q.leave("a"), true);
  assert.deepEqual(q.close(), []);
  await settle();
  assert.equal(rejected, false, "rejected before the source's pull settled");
  source.close();
  await assert.rejects(a, errors.BadResource);
});

test("accept queue: connections offered while nobody waits are kept, a given-back one first", async () => {
  const { q } = queue();
  q.join("a");
  q.offer(1);
  q.offer(2);
  q.offer(3, true);
  assert.equal(await want(q, "a"), 3);
  assert.equal(await want(q, "a"), 1);
  assert.deepEqual(q.close(), [2]);
});

test("accept queue: after close, offers are disposed of and wants rejected", async () => {
  const { q, disposed } = queue();
  q.join("a");
  q.leave("a");
  q.close();
  q.offer(5);
  assert.deepEqual(disposed, [5]);
  q.join("b");
  await assert.rejects(want(q, "b"), errors.BadResource);
});

test("accept queue: a want of a non-member rejects; a second want of a member replaces the first", async () => {
  const { source, q } = queue();
  await assert.rejects(want(q, "stranger"), errors.BadResource);
  q.join("a");
  let firstSettled = false;
  want(q, "a").then(() => firstSettled = true, () => firstSettled = true);
  const second = want(q, "a");
  source.arrive(4);
  assert.equal(await second, 4);
  await settle();
  assert.equal(firstSettled, false);
});

test("accept queue: the source is ref'd exactly while a ref'd member waits", async () => {
  const { source, q } = queue();
  q.join("a");
  q.join("b");
  const a = want(q, "a", false);
  assert.equal(source.refs.at(-1), false);
  const b = want(q, "b", true);
  assert.equal(source.refs.at(-1), true);
  q.setRef("b", false);
  assert.equal(source.refs.at(-1), false);
  source.arrive(1);
  source.arrive(2);
  await Promise.all([a, b]);
  assert.equal(source.refs.at(-1), false);
});
