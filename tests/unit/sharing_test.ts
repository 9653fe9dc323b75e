/**
 * The hand-off machine of `sharing/` on fakes: an owner, borrowers whose
 * messages travel through a queue the test delivers (so that it can hold
 * them in flight and choose the order), and handles that move nowhere.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type {
  NativeListener,
  NativeStream,
  RawConnection,
  ShareAddress,
  ShareRequest,
  SocketAddress,
} from "../../platform/types.ts";
import { Borrower, type Channel } from "../../sharing/borrower.ts";
import { Owner } from "../../sharing/owner.ts";
import type { MemberMessage } from "../../sharing/wire.ts";
import {
  FakeHandles,
  type FakeRaw,
  type FakeStream,
  settle,
} from "./_fakes.ts";

const REQUEST = {
  hostname: "127.0.0.1",
  port: 0,
  backlog: 511,
  reusePort: false,
};

/**
 * A channel between one borrower and the owner whose messages wait in one
 * queue until `deliver()`. `lends`: handles are copied (process IPC), so the
 * owner keeps its copy until `took`.
 */
class QueuedChannel implements Channel {
  readonly queue: (() => void)[] = [];
  /** The copies of handles this side got, where the channel copies them. */
  readonly copies: FakeRaw[] = [];
  constructor(
    readonly owner: Owner,
    readonly borrower: Borrower,
    readonly lends = false,
  ) {}

  listen(request: ShareRequest, member: string) {
    return this.owner.listen(request, member);
  }

  send(msg: MemberMessage, raw?: RawConnection): void {
    this.queue.push(() =>
      this.owner.receive(msg, raw, (reply, r) => {
        const got = r && this.lends ? this.#copy(r as FakeRaw) : r;
        this.queue.push(() => this.borrower.receive(this, reply, got));
      }, this.lends)
    );
  }

  #copy(raw: FakeRaw): FakeRaw {
    const copy = { id: raw.id, closed: false };
    this.copies.push(copy);
    return copy;
  }

  /** Delivers every message in flight, and what they cause, in order. */
  deliver(): void {
    while (this.queue.length) this.queue.shift()!();
  }
}

function setup(lends = false) {
  const handles = new FakeHandles();
  const closedKeys: string[] = [];
  const owner = new Owner(handles, { closed: (key) => closedKeys.push(key) });
  const side = (prefix: string) => {
    const borrower = new Borrower(handles, prefix);
    return { borrower, channel: new QueuedChannel(owner, borrower, lends) };
  };
  return { handles, owner, closedKeys, side };
}

/** Two sides, a: and b:, each with one member on the same address. */
function twoMembers(lends = false) {
  const shared = setup(lends);
  const a = shared.side("a:");
  const b = shared.side("b:");
  const first = a.borrower.join(a.channel, REQUEST);
  const second = b.borrower.join(b.channel, {
    ...REQUEST,
    port: portOf(first),
  });
  return { ...shared, a, b, first, second };
}

let nextRaw = 0;
function raw(): FakeRaw {
  return { id: ++nextRaw, closed: false };
}

/** The port a member of a TCP address listens on. */
function portOf(member: NativeListener<ShareAddress>): number {
  return (member.addr as SocketAddress).port;
}

function idOf(stream: NativeStream<ShareAddress>): number {
  return (stream as FakeStream).id;
}

test("sharing: members join one socket; each connection goes to exactly one waiting member, in turn", async () => {
  const { handles, owner, a, b, first, second } = twoMembers();
  const joined = owner.listen({ ...REQUEST, port: portOf(first) }, "o:1");
  const local = owner.local(joined, "o:1");
  assert.equal(handles.sockets.length, 1, "one socket for the address");
  assert.deepEqual(owner.members(joined.key), [first.id, second.id, "o:1"]);

  const got = [first.accept(), second.accept(), local.accept()];
  a.channel.deliver();
  b.channel.deliver();
  const socket = handles.sockets[0];
  const sent = [raw(), raw(), raw()];
  for (const r of sent) socket.arrive(r);
  await settle();
  a.channel.deliver();
  b.channel.deliver();
  const ids = (await Promise.all(got)).map(idOf).sort();
  assert.deepEqual(ids, sent.map((r) => r.id).sort());
  assert.ok(sent.every((r) => !r.closed), "no connection was closed");
});

test("sharing: the last member out closes the socket and frees the address", () => {
  const { handles, owner, closedKeys, side } = setup();
  const a = side("a:");
  const m1 = a.borrower.join(a.channel, REQUEST);
  const m2 = a.borrower.join(a.channel, { ...REQUEST, port: portOf(m1) });
  m1.close();
  a.channel.deliver();
  assert.equal(handles.sockets[0].closed, false, "one member still listens");
  assert.equal(owner.holds(m1.key), true);
  m2.close();
  a.channel.deliver();
  assert.equal(handles.sockets[0].closed, true);
  assert.equal(owner.holds(m1.key), false);
  assert.deepEqual(closedKeys, [m1.key]);
  // The address is free: binding it again makes a new socket.
  const again = a.borrower.join(a.channel, { ...REQUEST, port: portOf(m1) });
  assert.equal(handles.sockets.length, 2);
  again.close();
  a.channel.deliver();
});

test("sharing: a closed member's accept rejects with BadResource, and so does a later one", async () => {
  const { side } = setup();
  const a = side("a:");
  const member = a.borrower.join(a.channel, REQUEST);
  const pending = member.accept();
  member.close();
  await assert.rejects(pending, { name: "BadResource" });
  await assert.rejects(member.accept(), { name: "BadResource" });
  a.channel.deliver();
});

/**
 * Two sides over copying channels (as over IPC), a: waiting and b: not yet:
 * a connection `r` has been lent to a:, its `conn` still in flight.
 */
async function lentInFlight() {
  const { handles, owner, a, b, first, second: other } = twoMembers(true);
  void first.accept().catch(() => {});
  a.channel.deliver(); // its want reaches the owner
  const r = raw();
  handles.sockets[0].arrive(r);
  await settle(); // the owner lends r to a: and keeps its copy
  return { owner, a, b, first, other, r };
}

test("sharing: a borrower that goes away mid-accept (its side gone) leaves, and what it was lent goes to the next in line", async () => {
  const { owner, a, b, first: doomed, other, r } = await lentInFlight();
  // a:'s process dies before the connection reaches it.
  a.channel.queue.length = 0;
  owner.leaveAll("a:");
  const got = other.accept();
  b.channel.deliver();
  await settle();
  b.channel.deliver();
  assert.equal(idOf(await got), r.id, "the owner's copy went to b:");
  assert.equal(b.channel.copies.length, 1, "served once");
  // In a real death its wait died with it; here it must end (it holds the loop).
  doomed.close();
  other.close();
  b.channel.deliver();
});

test("sharing: a connection that reaches a member after it closed goes back and is served by another", async () => {
  const { a, b, first: closing, other, r } = await lentInFlight();
  closing.close(); // its `leave` follows the conn in flight
  const got = other.accept();
  b.channel.deliver();
  a.channel.deliver(); // conn arrives at a closed member: back (ticket), then leave
  await settle();
  b.channel.deliver();
  assert.equal(idOf(await got), r.id);
  // a: closed the copy it could not take; b: got one of the owner's.
  assert.deepEqual(a.channel.copies.map((c) => c.closed), [true]);
  assert.deepEqual(b.channel.copies.map((c) => c.closed), [false]);
  other.close();
  b.channel.deliver();
});

test("sharing: a connection that was taken is settled: the owner closes its copy once the member says took", async () => {
  const { handles, side } = setup(true);
  const a = side("a:");
  const member = a.borrower.join(a.channel, REQUEST);
  const got = member.accept();
  a.channel.deliver();
  const r = raw();
  handles.sockets[0].arrive(r);
  await settle();
  a.channel.deliver();
  assert.equal(idOf(await got), r.id);
  // With copies (IPC), the owner's copy closes when `took` arrives.
  assert.equal(r.closed, true);
  assert.equal(a.channel.copies[0].closed, false, "the member's stays open");
  member.close();
  a.channel.deliver();
});

test("sharing: a member that stops waiting (ref off, then close) leaves no timer behind once the owner says left", () => {
  const { side } = setup();
  const a = side("a:");
  const member = a.borrower.join(a.channel, REQUEST);
  member.setRef(false);
  member.close();
  a.channel.deliver(); // ref, leave, then left back
  // The borrower forgot the member; its wait for `left` (a timer, which
  // Deno's test sanitizer would report) ended when `left` arrived.
  assert.deepEqual(a.borrower.of(member.key), []);
});

test("sharing: a Unix socket path is one more address: members of two sides share its one socket, the last out closes it", async () => {
  const { handles, owner, closedKeys, side } = setup(true);
  const a = side("a:");
  const b = side("b:");
  const path = {
    transport: "unix" as const,
    path: "/run/app.sock",
    backlog: 8,
  };
  const first = a.borrower.join(a.channel, path);
  const second = b.borrower.join(b.channel, path);
  assert.equal(handles.sockets.length, 1, "one socket for the path");
  assert.equal(first.key, "unix:/run/app.sock");
  assert.deepEqual(second.addr, { path: "/run/app.sock" });
  assert.deepEqual(owner.members(first.key), [first.id, second.id]);
  // A TCP address that happens to look alike is another key.
  assert.notEqual(first.key, "/run/app.sock");
  const got = [first.accept(), second.accept()];
  a.channel.deliver();
  b.channel.deliver();
  const sent = [raw(), raw()];
  for (const r of sent) handles.sockets[0].arrive(r);
  await settle();
  a.channel.deliver();
  b.channel.deliver();
  const ids = (await Promise.all(got)).map(idOf).sort();
  assert.deepEqual(ids, sent.map((r) => r.id).sort());
  first.close();
  a.channel.deliver();
  assert.equal(handles.sockets[0].closed, false, "b: still listens");
  second.close();
  b.channel.deliver();
  assert.equal(handles.sockets[0].closed, true);
  assert.deepEqual(closedKeys, ["unix:/run/app.sock"]);
});
