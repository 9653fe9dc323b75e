/**
 * UDP sockets shared across threads and processes (`sharing/datagrams.ts`)
 * on fakes: an owner whose fake UDP socket receives when the test says so,
 * members in its thread and behind a channel whose messages wait until the
 * test delivers them (so that they can be held in flight). Each datagram
 * must reach exactly one waiting receive; none may be lost while one waits.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AddrInUse, BadResource } from "../../core/errors.ts";
import type {
  Datagram,
  NativeDatagramSocket,
  SocketAddress,
  Udp,
  UdpBindRequest,
} from "../../platform/types.ts";
import { Borrower, type Channel } from "../../sharing/borrower.ts";
import { RemoteDatagramMember } from "../../sharing/datagrams.ts";
import { Owner } from "../../sharing/owner.ts";
import {
  bytesOf,
  type DatagramBind,
  type MemberMessage,
  packBytes,
  type SharedBind,
} from "../../sharing/wire.ts";
import { FakeHandles, settle } from "./_fakes.ts";

/** A UDP socket whose datagrams arrive when the test calls `arrive`. */
class FakeDatagramSocket implements NativeDatagramSocket {
  readonly sent: { data: Uint8Array; ip: string; port: number }[] = [];
  closed = false;
  demand = { waiting: false, ref: false, receives: 0 };
  ttl = 0;
  constructor(
    readonly addr: SocketAddress,
    readonly onDatagram: (d: Datagram) => void,
  ) {}

  arrive(byte: number, port = 40000): void {
    this.onDatagram({
      data: new Uint8Array([byte]),
      from: { hostname: "127.0.0.1", port },
    });
  }

  send(data: Uint8Array, ip: string, port: number): Promise<number> {
    if (port === 9) return Promise.reject(new AddrInUse("fake send error"));
    this.sent.push({ data, ip, port });
    return Promise.resolve(data.byteLength);
  }

  joinMulticastV4(): void {}
  leaveMulticastV4(): void {}
  joinMulticastV6(): void {}
  leaveMulticastV6(): void {}
  setMulticastLoopback(): void {}
  setMulticastTTL(ttl: number): void {
    this.ttl = ttl;
  }

  setDemand(waiting: boolean, ref: boolean, receives = 0): void {
    this.demand = { waiting, ref, receives };
  }

  close(): void {
    this.closed = true;
  }
}

/** UDP whose sockets are fakes, one per port. */
class FakeUdp implements Udp {
  readonly base = "fake";
  readonly sockets: FakeDatagramSocket[] = [];
  #nextPort = 31000;

  bind(
    request: UdpBindRequest,
    onDatagram: (d: Datagram) => void,
  ): FakeDatagramSocket {
    if (this.sockets.some((s) => !s.closed && s.addr.port === request.port)) {
      throw new AddrInUse("fake address in use");
    }
    const socket = new FakeDatagramSocket({
      hostname: request.hostname,
      port: request.port || this.#nextPort++,
    }, onDatagram);
    this.sockets.push(socket);
    return socket;
  }

  kernelSupport() {
    return { supported: false, reason: "fake" };
  }

  resolve(): Promise<string> {
    return Promise.resolve("127.0.0.1");
  }
}

const REQUEST: DatagramBind = {
  transport: "udp",
  hostname: "127.0.0.1",
  port: 0,
  reuseAddress: false,
  reusePort: false,
  loopback: false,
  shared: true,
};

/**
 * A channel from one borrower (a thread or process) to the owner; messages
 * both ways wait in one queue until `deliver()`, through JSON as over IPC
 * when `json`.
 */
class QueuedChannel implements Channel {
  readonly queue: (() => void)[] = [];
  readonly borrower: Borrower;
  constructor(readonly owner: Owner, prefix: string, readonly json = false) {
    this.borrower = new Borrower(new FakeHandles(), prefix);
  }

  listen(request: SharedBind, member: string) {
    return this.owner.listen(request, member);
  }

  send(msg: MemberMessage): void {
    const sent = this.#wire(msg);
    this.queue.push(() =>
      this.owner.receive(sent, undefined, (reply) => {
        const back = this.#wire(reply);
        this.queue.push(() => this.borrower.receive(this, back, undefined));
      })
    );
  }

  #wire<M extends object>(msg: M): M {
    return this.json
      ? JSON.parse(JSON.stringify(packBytes(msg as never)))
      : msg;
  }

  /** A member of this side on the owner's socket. */
  member(onDatagram: (d: Datagram) => void, port: number) {
    return new RemoteDatagramMember(
      this.borrower,
      this,
      { ...REQUEST, port },
      onDatagram,
    );
  }

  /** Delivers every message in flight, and what they cause, in order. */
  async deliver(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      await settle();
      if (this.queue.length === 0) return;
      for (const next of this.queue.splice(0)) next();
    }
  }
}

/** The port of a UDP hub that `listen` answered with. */
function portOf(joined: { addr: unknown }): number {
  return (joined.addr as SocketAddress).port;
}

/** The first byte of each datagram a member got. */
function collector(): { got: number[]; on: (d: Datagram) => void } {
  const got: number[] = [];
  return { got, on: (d) => got.push(d.data[0]) };
}

test("each datagram goes to exactly one waiting receive, the owner's thread's or a member's behind a channel", async () => {
  const udp = new FakeUdp();
  const owner = new Owner(new FakeHandles(), {}, udp);
  const local = collector();
  const joined = owner.listen(REQUEST, "here:1");
  const here = owner.localDatagram(joined, "here:1", local.on);
  const channel = new QueuedChannel(owner, "t2:", true);
  const remote = collector();
  const member = channel.member(remote.on, portOf(joined));
  const socket = udp.sockets[0];

  // Two receives wait behind the channel, one here.
  member.setDemand(true, true, 2);
  await channel.deliver();
  here.setDemand(true, true, 1);
  assert.deepEqual(socket.demand, { waiting: true, ref: true, receives: 3 });
  for (let b = 1; b <= 5; b++) socket.arrive(b);
  await channel.deliver();
  // Three waited: three datagrams were handed out; two wait in the hub.
  assert.equal(remote.got.length + local.got.length, 3);
  assert.equal(remote.got.length, 2);
  assert.equal(owner.hub(joined.key)!.queue.queued, 2);
  // The next receives take what waited, in order.
  member.setDemand(true, true, 2);
  await channel.deliver();
  assert.deepEqual(
    [...local.got, ...remote.got].sort(),
    [1, 2, 3, 4, 5],
    "every datagram exactly once",
  );
  member.close();
  here.close();
  await channel.deliver();
  assert.ok(socket.closed, "the last member out closes the socket");
});

test("a member that wants fewer, or closes, with datagrams in flight loses none", async () => {
  const udp = new FakeUdp();
  const owner = new Owner(new FakeHandles(), {}, udp);
  const joined = owner.listen(REQUEST, "here:1");
  const local = collector();
  const here = owner.localDatagram(joined, "here:1", local.on);
  const channel = new QueuedChannel(owner, "p7:");
  const a = collector();
  const member = channel.member(a.on, portOf(joined));
  const socket = udp.sockets[0];
  member.setDemand(true, true, 3);
  await channel.deliver();
  // Two datagrams go out to it; before they arrive it wants one fewer.
  socket.arrive(1);
  socket.arrive(2);
  member.setDemand(true, true, 2);
  await channel.deliver();
  assert.deepEqual(a.got, [1, 2], "what was in flight still arrived");
  assert.equal(owner.hub(joined.key)!.queue.waitingMembers().length, 0);
  // One more goes to it; it closes before the datagram arrives: the
  // datagram goes back to the hub, and to the receive waiting here.
  member.setDemand(true, true, 3);
  channel.queue.splice(0).forEach((next) => next());
  socket.arrive(3);
  member.close();
  here.setDemand(true, true, 1);
  await channel.deliver();
  assert.deepEqual(a.got, [1, 2]);
  assert.deepEqual(local.got, [3], "given back to a sibling, not lost");
  here.close();
  assert.ok(socket.closed);
});

test("nobody waiting: the hub keeps 1,024 datagrams and drops (counting) the rest; a member hears the count", async () => {
  const udp = new FakeUdp();
  const owner = new Owner(new FakeHandles(), {}, udp);
  const joined = owner.listen(REQUEST, "here:1");
  const here = owner.localDatagram(joined, "here:1", () => {});
  const channel = new QueuedChannel(owner, "p8:", true);
  const a = collector();
  const member = channel.member(a.on, portOf(joined));
  const socket = udp.sockets[0];
  for (let i = 0; i < 1100; i++) socket.arrive(i & 0xff);
  const hub = owner.hub(joined.key)!;
  assert.equal(hub.queue.queued, 1024);
  assert.equal(hub.queue.dropped, 76);
  assert.deepEqual(here.ownerStats(), { queued: 1024, dropped: 76 });
  member.setDemand(true, true, 1);
  await channel.deliver();
  assert.equal(a.got.length, 1);
  assert.deepEqual(
    member.ownerStats(),
    { queued: 0, dropped: 76 },
    "drops as last heard with a datagram",
  );
  member.close();
  here.close();
  await channel.deliver();
});

test("a member's send leaves from the owner's socket; its failure comes back as its class; settings too", async () => {
  const udp = new FakeUdp();
  const owner = new Owner(new FakeHandles(), {}, udp);
  const channel = new QueuedChannel(owner, "p9:", true);
  const member = channel.member(() => {}, 0);
  const socket = udp.sockets[0];
  assert.equal(member.addr.port, socket.addr.port);
  const sent = member.send(new Uint8Array([1, 2, 3]), "127.0.0.1", 5000);
  const failed = assert.rejects(
    member.send(new Uint8Array([1]), "127.0.0.1", 9),
    (err) => err instanceof AddrInUse,
  );
  const ttl = member.setMulticastTTL(7);
  await channel.deliver();
  assert.equal(await sent, 3);
  await failed;
  await ttl;
  assert.equal(socket.ttl, 7);
  assert.deepEqual([...socket.sent[0].data], [1, 2, 3]);
  assert.equal(socket.sent[0].port, 5000);
  member.close();
  await channel.deliver();
  assert.ok(socket.closed);
  await assert.rejects(
    member.send(new Uint8Array([1]), "127.0.0.1", 5000),
    (err) => err instanceof BadResource,
  );
});

test("a thread or process that dies leaves: its waits go, the socket stays for the others", async () => {
  const udp = new FakeUdp();
  const owner = new Owner(new FakeHandles(), {}, udp);
  const joined = owner.listen(REQUEST, "here:1");
  const local = collector();
  const here = owner.localDatagram(joined, "here:1", local.on);
  const channel = new QueuedChannel(owner, "p10:");
  const member = channel.member(() => {}, portOf(joined));
  member.setDemand(true, true, 4);
  await channel.deliver();
  owner.leaveAll("p10:");
  here.setDemand(true, false, 1);
  udp.sockets[0].arrive(42);
  await settle();
  assert.deepEqual(local.got, [42], "the dead member's waits do not take it");
  assert.deepEqual(owner.members(joined.key), ["here:1"]);
  // Its side is gone in truth; here, its member lets the loop go.
  member.close();
  await channel.deliver();
  here.close();
  assert.ok(udp.sockets[0].closed);
});

test("datagram bytes cross a JSON channel as base64, and come back as the receiver's own", () => {
  const data = new Uint8Array([0, 255, 7, 128]);
  const msg = packBytes({
    op: "dback",
    key: "udp:127.0.0.1:1",
    data,
    from: { hostname: "127.0.0.1", port: 1 },
  } as MemberMessage);
  const back = JSON.parse(JSON.stringify(msg));
  assert.equal(typeof back.data, "string");
  const bytes = bytesOf(back.data);
  assert.deepEqual([...bytes], [0, 255, 7, 128]);
  assert.equal(bytes.byteOffset, 0);
  assert.equal(bytes.buffer.byteLength, 4);
});

test("a member closing with datagrams it got and nobody received gives them back for the others", async () => {
  const udp = new FakeUdp();
  const owner = new Owner(new FakeHandles(), {}, udp);
  const joined = owner.listen(REQUEST, "here:1");
  const local = collector();
  const here = owner.localDatagram(joined, "here:1", local.on);
  const channel = new QueuedChannel(owner, "p11:", true);
  const member = channel.member(() => {}, portOf(joined));
  const unread = [7, 8].map((b) => ({
    data: new Uint8Array([b]),
    from: { hostname: "127.0.0.1", port: 40000 },
  }));
  member.close(unread);
  here.setDemand(true, true, 2);
  await channel.deliver();
  assert.deepEqual(local.got, [7, 8]);
  here.close([{ data: new Uint8Array([9]), from: unread[0].from }]);
  assert.ok(udp.sockets[0].closed, "the last one out: nobody to give to");
});
