/**
 * A UDP socket shared across threads and processes (the emulated
 * `reusePort`), on the same hub and members as listening sockets: the
 * owner (`owner.ts`) holds the socket in a `DatagramHub`; each member (one
 * thread's or process's sockets on the address) says how many receives
 * wait in it (`dwant`), and the hub sends each datagram, as bytes, to one
 * of those receives, the one that has waited longest
 * (`core/datagram_queue.ts`). While nobody waits, datagrams wait in the
 * hub's bounded queue and beyond it are dropped and counted, as a full
 * kernel buffer drops them. A member's `send` goes to the owner, which
 * sends it from the shared socket: the reply leaves from the port the peer
 * asked.
 *
 * @module
 */
import {
  DatagramQueue,
  DEFAULT_DATAGRAM_LIMITS,
} from "../core/datagram_queue.ts";
import { NetError } from "../core/messages.ts";
import { hold, release } from "../platform/loop_hold.ts";
import type {
  Datagram,
  NativeDatagramSocket,
  SocketAddress,
} from "../platform/types.ts";
import type { Borrower, Channel } from "./borrower.ts";
import {
  bytesOf,
  type DatagramBind,
  type DatagramCall,
  type HubMessage,
  revive,
} from "./wire.ts";

/** One shared UDP socket and its members' waiting receives. */
export class DatagramHub {
  readonly key: string;
  readonly socket: NativeDatagramSocket;
  readonly queue: DatagramQueue<Datagram, string>;
  /** The members, and whether their waiting receives keep the owner alive. */
  #refed = new Map<string, boolean>();

  /** Binds with `bind` (throws what it throws); `keyOf` names the bound address. */
  constructor(
    bind: (onDatagram: (d: Datagram) => void) => NativeDatagramSocket,
    keyOf: (addr: SocketAddress) => string,
  ) {
    this.queue = new DatagramQueue(
      DEFAULT_DATAGRAM_LIMITS,
      () => this.#updateDemand(),
    );
    this.socket = bind((d) => this.queue.push(d, d.data.byteLength));
    this.key = keyOf(this.socket.addr);
  }

  /** The members' ids. */
  members(): string[] {
    return [...this.#refed.keys()];
  }

  join(member: string): void {
    this.#refed.set(member, true);
  }

  /**
   * `member` has `n` more receives waiting (fewer, when negative): each new
   * one gets the next datagram through `deliver`.
   */
  want(
    member: string,
    n: number,
    refed: boolean,
    deliver: (d: Datagram) => void,
  ): void {
    if (!this.#refed.has(member)) return;
    this.#refed.set(member, refed);
    for (let i = 0; i < n; i++) {
      // A wait cancelled (the member wants fewer, or left) is no error.
      this.queue.take(member, same).then(deliver, () => {});
    }
    if (n < 0) this.queue.cancel(member, NetError.canceled, -n);
    this.#updateDemand();
  }

  /** `member` leaves; returns whether it was the last. */
  leave(member: string): boolean {
    if (!this.#refed.delete(member)) return this.#refed.size === 0;
    this.queue.cancel(member, NetError.canceled);
    return this.#refed.size === 0;
  }

  /** Closes the socket: the last member left. */
  close(): void {
    this.queue.clear();
    this.socket.close();
  }

  /** A setting of the socket, as a member asked for it. */
  call(method: DatagramCall, args: (string | number | boolean)[]): unknown {
    const fn = this.socket[method] as (...a: unknown[]) => unknown;
    return fn.apply(this.socket, args);
  }

  #updateDemand(): void {
    const waiting = this.queue.waitingMembers();
    this.socket.setDemand(
      waiting.length > 0,
      waiting.some((m) => this.#refed.get(m)),
      waiting.length,
    );
  }
}

/**
 * How many of a member's receives its hub knows of. A datagram that arrives
 * counts one off; one that arrives after the member asked for fewer counts
 * nothing and waits in the member's own queue for its next receive.
 */
class Demand {
  #asked = 0;
  #refed = true;

  /** The change to tell the hub, or `undefined` when there is none. */
  update(receives: number, refed: boolean): number | undefined {
    const n = receives - this.#asked;
    if (n === 0 && refed === this.#refed) return undefined;
    this.#asked = receives;
    this.#refed = refed;
    return n;
  }

  arrived(): void {
    this.#asked = Math.max(0, this.#asked - 1);
  }

  /** The hub forgot this member's receives (it joined again): all of them anew. */
  reset(): number {
    const n = this.#asked;
    this.#asked = 0;
    return n;
  }

  get refed(): boolean {
    return this.#refed;
  }
}

/** A datagram as it was taken: it is delivered a turn later, never inside the queue's push. */
function same(d: Datagram): Datagram {
  return d;
}

/** What an owner offers a member in its own thread. */
export interface DatagramOwner {
  hub(key: string): DatagramHub | undefined;
  leave(key: string, member: string): void;
}

/** A member in the thread that holds the socket: it asks the hub directly. */
export class LocalDatagramMember implements NativeDatagramSocket {
  readonly addr: SocketAddress;
  #owner: DatagramOwner;
  #key: string;
  #member: string;
  #onDatagram: (d: Datagram) => void;
  #demand = new Demand();
  #closed = false;

  constructor(
    owner: DatagramOwner,
    joined: { key: string; addr: SocketAddress },
    member: string,
    onDatagram: (d: Datagram) => void,
  ) {
    this.#owner = owner;
    this.#key = joined.key;
    this.addr = joined.addr;
    this.#member = member;
    this.#onDatagram = onDatagram;
  }

  ownerStats(): { queued: number; dropped: number } {
    const queue = this.#owner.hub(this.#key)?.queue;
    return { queued: queue?.queued ?? 0, dropped: queue?.dropped ?? 0 };
  }

  #hub(): DatagramHub {
    const hub = this.#closed ? undefined : this.#owner.hub(this.#key);
    if (!hub) throw NetError.socketClosed();
    return hub;
  }

  send(data: Uint8Array, ip: string, port: number): Promise<number> {
    return this.#hub().socket.send(data, ip, port);
  }

  joinMulticastV4(group: string, iface: string): void | Promise<void> {
    return this.#hub().socket.joinMulticastV4(group, iface);
  }

  leaveMulticastV4(group: string, iface: string): void | Promise<void> {
    return this.#hub().socket.leaveMulticastV4(group, iface);
  }

  joinMulticastV6(group: string, iface: number): void | Promise<void> {
    return this.#hub().socket.joinMulticastV6(group, iface);
  }

  leaveMulticastV6(group: string, iface: number): void | Promise<void> {
    return this.#hub().socket.leaveMulticastV6(group, iface);
  }

  setMulticastLoopback(on: boolean): void | Promise<void> {
    return this.#hub().socket.setMulticastLoopback(on);
  }

  setMulticastTTL(ttl: number): void | Promise<void> {
    return this.#hub().socket.setMulticastTTL(ttl);
  }

  setDemand(waiting: boolean, ref: boolean, receives?: number): void {
    const n = this.#demand.update(receives ?? (waiting ? 1 : 0), ref);
    if (n === undefined || this.#closed) return;
    const hub = this.#owner.hub(this.#key);
    hub?.want(this.#member, n, ref, (d) => {
      // Closed between the hand-out and now: for the others.
      if (this.#closed) return void hub.queue.push(d, d.data.byteLength);
      this.#demand.arrived();
      this.#onDatagram(d);
    });
  }

  close(unread: Datagram[] = []): void {
    if (this.#closed) return;
    this.#closed = true;
    // What arrived and nobody here received: for the others.
    const hub = this.#owner.hub(this.#key);
    for (const d of unread) hub?.queue.push(d, d.data.byteLength);
    this.#owner.leave(this.#key, this.#member);
  }
}

/** A send or setting waiting for the owner's answer. */
interface Call {
  resolve(value: number): void;
  reject(err: Error): void;
}

/** A member in a thread or process other than the owner's, over its channel. */
export class RemoteDatagramMember implements NativeDatagramSocket {
  readonly id: string;
  readonly addr: SocketAddress;
  #borrower: Borrower;
  #channel: Channel;
  #request: DatagramBind;
  #key: string;
  #onDatagram: (d: Datagram) => void;
  #demand = new Demand();
  #receives = 0;
  #holding = false;
  #dropped = 0;
  #tickets = 0;
  #calls = new Map<number, Call>();

  constructor(
    borrower: Borrower,
    channel: Channel,
    request: DatagramBind,
    onDatagram: (d: Datagram) => void,
  ) {
    this.#borrower = borrower;
    this.#channel = channel;
    this.#onDatagram = onDatagram;
    this.id = borrower.newMember();
    const { key, addr } = channel.listen(request, this.id);
    this.#key = key;
    // A UDP hub's address is an IP and port.
    this.addr = addr as SocketAddress;
    // Joining again (the holder thread went) names the port it got.
    this.#request = { ...request, port: this.addr.port };
    borrower.add(this);
  }

  /** The owner's key for this member's address. */
  get key(): string {
    return this.#key;
  }

  /** What waits at the owner is not known here; its drops as last heard. */
  ownerStats(): { queued: number; dropped: number } {
    return { queued: 0, dropped: this.#dropped };
  }

  send(data: Uint8Array, ip: string, port: number): Promise<number> {
    return this.#call((ticket) => ({
      op: "dsend",
      key: this.#key,
      member: this.id,
      ticket,
      data,
      hostname: ip,
      port,
    }));
  }

  joinMulticastV4(group: string, iface: string): Promise<void> {
    return this.#setting("joinMulticastV4", [group, iface]);
  }

  leaveMulticastV4(group: string, iface: string): Promise<void> {
    return this.#setting("leaveMulticastV4", [group, iface]);
  }

  joinMulticastV6(group: string, iface: number): Promise<void> {
    return this.#setting("joinMulticastV6", [group, iface]);
  }

  leaveMulticastV6(group: string, iface: number): Promise<void> {
    return this.#setting("leaveMulticastV6", [group, iface]);
  }

  setMulticastLoopback(on: boolean): Promise<void> {
    return this.#setting("setMulticastLoopback", [on]);
  }

  setMulticastTTL(ttl: number): Promise<void> {
    return this.#setting("setMulticastTTL", [ttl]);
  }

  setDemand(waiting: boolean, ref: boolean, receives?: number): void {
    this.#receives = receives ?? (waiting ? 1 : 0);
    this.#updateHold(ref);
    const n = this.#demand.update(this.#receives, ref);
    if (n === undefined || !this.#borrower.has(this)) return;
    this.#channel.send({
      op: "dwant",
      key: this.#key,
      member: this.id,
      n,
      refed: ref,
    });
  }

  /** A message from the owner for this member. */
  receive(msg: HubMessage): void {
    if (msg.op === "dgram") {
      this.#dropped = msg.dropped;
      this.#demand.arrived();
      return this.#onDatagram({ data: bytesOf(msg.data), from: msg.from });
    }
    if (msg.op !== "dret") return;
    const call = this.#calls.get(msg.ticket);
    if (!call) return;
    this.#calls.delete(msg.ticket);
    release();
    if (msg.name !== undefined) call.reject(revive(msg.name, msg.message!));
    else call.resolve(msg.value ?? 0);
  }

  /**
   * The holder thread went: joins again wherever the socket is now (or
   * binds it), and asks there for the receives that wait. Throws what the
   * listen throws.
   */
  rejoin(): void {
    if (!this.#borrower.has(this)) return;
    this.#channel.listen(this.#request, this.id);
    this.#demand.reset();
    const n = this.#demand.update(this.#receives, this.#demand.refed);
    if (n) {
      this.#channel.send({
        op: "dwant",
        key: this.#key,
        member: this.id,
        n,
        refed: this.#demand.refed,
      });
    }
  }

  /** A rejoin that failed for good: sends waiting for an answer hear why. */
  fail(err: Error): void {
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    for (const call of calls) {
      release();
      call.reject(err);
    }
  }

  close(unread: Datagram[] = []): void {
    if (!this.#borrower.has(this)) return;
    // What arrived and nobody here received: for the others.
    for (const d of unread) {
      this.#channel.send({
        op: "dback",
        key: this.#key,
        data: d.data,
        from: d.from,
      });
    }
    this.#borrower.forget(this);
    this.#channel.send({ op: "leave", key: this.#key, member: this.id });
    this.#updateHold(false);
    this.fail(NetError.socketClosed());
  }

  #setting(
    method: DatagramCall,
    args: (string | number | boolean)[],
  ): Promise<void> {
    return this.#call((ticket) => ({
      op: "dcall",
      key: this.#key,
      member: this.id,
      ticket,
      method,
      args,
    })).then(() => undefined);
  }

  #call(
    message: (ticket: number) => Parameters<Channel["send"]>[0],
  ): Promise<number> {
    if (!this.#borrower.has(this)) {
      return Promise.reject(NetError.socketClosed());
    }
    const ticket = ++this.#tickets;
    // Until the owner answers, as a socket's own pending send would.
    hold();
    return new Promise((resolve, reject) => {
      this.#calls.set(ticket, { resolve, reject });
      this.#channel.send(message(ticket));
    });
  }

  /**
   * Channels deliver nothing that holds the event loop open, so a ref'd
   * receive waiting on the owner holds it, as a socket's own would.
   */
  #updateHold(ref: boolean): void {
    const want = this.#receives > 0 && ref && this.#borrower.has(this);
    if (want === this.#holding) return;
    this.#holding = want;
    if (want) hold();
    else release();
  }
}
