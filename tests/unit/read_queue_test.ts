/** The read queue, with a fake source: order, backpressure, end, failure, close. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReadQueue } from "../../core/read_queue.ts";
import { errors } from "../../mod.ts";

function queue(): { q: ReadQueue; flows: boolean[]; changes: number[] } {
  const flows: boolean[] = [];
  const changes: number[] = [];
  const q: ReadQueue = new ReadQueue({
    queueFlow: (more) => void flows.push(more),
    queueChanged: () => void changes.push(q.waiting),
  });
  return { q, flows, changes };
}

const bytes = (...values: number[]) => new Uint8Array(values);

test("read queue: data in hand is read at once, split across small buffers", async () => {
  const { q } = queue();
  q.push(bytes(1, 2, 3, 4, 5));
  const buf = new Uint8Array(2);
  assert.equal(await q.read(buf), 2);
  assert.deepEqual(buf, bytes(1, 2));
  assert.equal(await q.read(buf), 2);
  assert.deepEqual(buf, bytes(3, 4));
  assert.equal(await q.read(new Uint8Array(8)), 1);
});

test("read queue: concurrent reads are served in order, and ask the source to flow", async () => {
  const { q, flows, changes } = queue();
  const a = new Uint8Array(3);
  const b = new Uint8Array(3);
  const ra = q.read(a);
  const rb = q.read(b);
  assert.deepEqual(flows, [true, true]);
  assert.equal(q.waiting, 2);
  q.push(bytes(1, 2, 3, 4));
  assert.deepEqual([await ra, await rb], [3, 1]);
  assert.deepEqual([...a, ...b.subarray(0, 1)], [1, 2, 3, 4]);
  assert.equal(changes.at(-1), 0);
});

test("read queue: with nobody reading, the source is held off past 64 KiB", () => {
  const { q, flows } = queue();
  q.push(new Uint8Array(32 * 1024));
  assert.deepEqual(flows, []);
  q.push(new Uint8Array(32 * 1024));
  assert.deepEqual(flows, [false]);
});

test("read queue: the end reads as 0 after the data, for every read after it", async () => {
  const { q } = queue();
  const pending = q.read(new Uint8Array(4));
  q.push(bytes(9));
  q.end();
  assert.equal(await pending, 1);
  assert.equal(await q.read(new Uint8Array(4)), 0);
  assert.equal(await q.read(new Uint8Array(4)), 0);
});

test("read queue: the first failure is what every read sees", async () => {
  const { q } = queue();
  const pending = q.read(new Uint8Array(4));
  q.fail(new errors.ConnectionReset("Connection reset by peer (os error 104)"));
  q.fail(new errors.BrokenPipe("Broken pipe (os error 32)"));
  await assert.rejects(pending, errors.ConnectionReset);
  await assert.rejects(q.read(new Uint8Array(4)), errors.ConnectionReset);
});

test("read queue: close makes pending and later reads reject with Interrupted, and drops data", async () => {
  const { q } = queue();
  q.push(bytes(1));
  assert.equal(q.failure(), null);
  q.close();
  await assert.rejects(q.read(new Uint8Array(4)), {
    name: "Interrupted",
    message: "operation canceled",
  });
  const { q: q2 } = queue();
  const pending = q2.read(new Uint8Array(4));
  q2.close();
  await assert.rejects(pending, errors.Interrupted);
});

test("read queue: readOrNull resolves null at the end, pending or after it, and data as read does", async () => {
  const { q } = queue();
  const buf = new Uint8Array(4);
  const pending = q.readOrNull(buf);
  q.push(bytes(7, 8));
  assert.equal(await pending, 2);
  assert.deepEqual(buf.subarray(0, 2), bytes(7, 8));
  const waiting = q.readOrNull(buf);
  q.end();
  assert.equal(await waiting, null);
  assert.equal(await q.readOrNull(buf), null);
  // `read` keeps answering 0 at the end, as NativeStream#read does.
  assert.equal(await q.read(buf), 0);
});

test("read queue: readChunk hands a chunk that owns its buffer on as it is, waiting or in hand", async () => {
  const { q } = queue();
  const first = bytes(1, 2, 3);
  const pending = q.readChunk();
  q.push(first);
  assert.equal(await pending, first);
  const second = bytes(4, 5);
  q.push(second);
  assert.equal(await q.readChunk(), second);
});

test("read queue: readChunk copies what the source reuses or shares, into a buffer of its own", async () => {
  const { q } = queue();
  const source = bytes(1, 2, 3, 4);
  const pending = q.readChunk();
  q.push(source.subarray(0, 2), true);
  source.fill(0);
  const got = (await pending)!;
  assert.deepEqual(got, bytes(1, 2));
  assert.equal(got.buffer.byteLength, 2);
  // A view into a bigger buffer, kept: handed on as a copy, the rest untouched.
  const shared = bytes(5, 6, 7, 8);
  q.push(shared.subarray(1, 3));
  const copy = (await q.readChunk())!;
  assert.deepEqual(copy, bytes(6, 7));
  assert.notEqual(copy.buffer, shared.buffer);
  assert.equal(copy.buffer.byteLength, 2);
});

test("read queue: readChunk joins small chunks in hand into one of up to 64 KiB, in order", async () => {
  const { q, flows } = queue();
  for (let i = 0; i < 40; i++) q.push(new Uint8Array(2048).fill(i));
  assert.ok(flows.length > 0 && flows.every((more) => !more));
  const joined = (await q.readChunk())!;
  assert.equal(joined.byteLength, 64 * 1024);
  assert.deepEqual([joined[0], joined[2048], joined[65535]], [0, 1, 31]);
  // Below the high-water mark again: the source reads on.
  assert.equal(flows.at(-1), true);
  const rest = (await q.readChunk())!;
  assert.equal(rest.byteLength, 8 * 2048);
  assert.deepEqual([rest[0], rest.at(-1)], [32, 39]);
  assert.equal(q.buffered, 0);
});

test("read queue: readChunk resolves null at the end, rejects as reads do, and keeps its turn among reads", async () => {
  const { q } = queue();
  const buf = new Uint8Array(2);
  const a = q.read(buf);
  const b = q.readChunk();
  const c = q.readChunk();
  q.push(bytes(1, 2, 3, 4));
  assert.equal(await a, 2);
  assert.deepEqual(await b, bytes(3, 4));
  q.end();
  assert.equal(await c, null);
  assert.equal(await q.readChunk(), null);
  const { q: q2 } = queue();
  const failed = q2.readChunk();
  q2.fail(
    new errors.ConnectionReset("Connection reset by peer (os error 104)"),
  );
  await assert.rejects(failed, errors.ConnectionReset);
  await assert.rejects(q2.readChunk(), errors.ConnectionReset);
});

test("read queue: takeAll hands over what is in hand, a lone chunk itself, several joined in order", async () => {
  const { q, flows } = queue();
  assert.equal(q.takeAll(), undefined);
  const lone = bytes(1, 2);
  q.push(lone);
  assert.equal(q.takeAll(), lone);
  q.push(bytes(3));
  q.push(bytes(4, 5), true);
  assert.deepEqual(q.takeAll(), bytes(3, 4, 5));
  assert.equal(q.buffered, 0);
  // Nothing was asked of the source; later data is read as ever.
  assert.deepEqual(flows, []);
  q.push(bytes(6));
  assert.equal(await q.read(new Uint8Array(4)), 1);
});

test("read queue: takeAll refuses (null) while a read waits, and once ended, failed or closed", () => {
  const waiting = queue().q;
  void waiting.read(new Uint8Array(1));
  assert.equal(waiting.takeAll(), null);
  const ended = queue().q;
  ended.push(bytes(1));
  ended.end();
  assert.equal(ended.takeAll(), null);
  const failed = queue().q;
  failed.fail(new errors.ConnectionReset("reset"));
  assert.equal(failed.takeAll(), null);
  const closed = queue().q;
  closed.close();
  assert.equal(closed.takeAll(), null);
});
