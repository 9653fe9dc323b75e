/**
 * The side that borrows a shared socket: listeners in a thread or process
 * other than the owner's (`owner.ts`). Each is a `RemoteMember` of the
 * owner's hub for its address; it asks for connections with `want` and gets
 * them over its `Channel` (thread messages, process IPC), which delivers the
 * owner's answers to `Borrower#receive`.
 *
 * @module
 */
import { NetError } from "../core/messages.ts";
import { hold, release } from "../platform/loop_hold.ts";
import { isUnixAddress } from "../core/address.ts";
import type {
  Handles,
  NativeListener,
  NativeStream,
  RawConnection,
  ShareAddress,
  ShareRequest,
} from "../platform/types.ts";
import {
  type HubMessage,
  type MemberMessage,
  revive,
  type SharedBind,
} from "./wire.ts";

/** How a member in another thread or process reaches the owner. */
export interface Channel {
  /** Binds or joins at the owner, synchronously; throws what the bind threw. */
  listen(request: SharedBind, member: string): {
    key: string;
    addr: ShareAddress;
  };
  /** Sends to the owner, with a connection handle when there is one. */
  send(msg: MemberMessage, raw?: RawConnection): void;
}

/** A member of a hub that another thread or process owns: a listener, or a UDP socket. */
export interface Member {
  readonly id: string;
  /** The owner's key for the member's address. */
  readonly key: string;
  /** A message from the owner for this member. */
  receive(msg: HubMessage, raw: RawConnection | undefined): void;
  /** Joins again where the socket is now; throws what the listen throws. */
  rejoin(): void;
  /** A rejoin that failed for good. */
  fail(err: Error): void;
  close(): void;
}

/** How long a closed member's side waits for the owner's `left`. */
const LEFT_MS = 2_000;

/** The members of one thread or process, on hubs that others own. */
export class Borrower {
  readonly handles: Handles;
  #prefix: string;
  #count = 0;
  #members = new Map<string, Member>();
  /** Closed members waiting for `left`, with the timer that holds their side alive. */
  #leaving = new Map<string, ReturnType<typeof setTimeout>>();

  /** `prefix` names this thread or process in member ids, unique across them. */
  constructor(handles: Handles, prefix: string) {
    this.handles = handles;
    this.#prefix = prefix;
  }

  /** A new member id, for a listener of this side. */
  newMember(): string {
    return `${this.#prefix}${++this.#count}`;
  }

  /** Joins the owner's hub for `request` over `channel`; throws what the bind threw. */
  join(channel: Channel, request: ShareRequest): RemoteMember {
    const member = new RemoteMember(this, channel, request, this.newMember());
    this.add(member);
    return member;
  }

  /** Counts `member` among this side's, for the owner's messages to reach it. */
  add(member: Member): void {
    this.#members.set(member.id, member);
  }

  /** This side's members on `key`. */
  of(key: string): Member[] {
    return [...this.#members.values()].filter((m) => m.key === key);
  }

  /** Closes every member: this thread or process is going away. */
  closeAll(): void {
    for (const member of [...this.#members.values()]) member.close();
  }

  /** Routes an owner's message to its member; a connection for a member that is gone goes back. */
  receive(
    channel: Channel,
    msg: HubMessage,
    raw: RawConnection | undefined,
  ): void {
    if (msg.op === "left") {
      clearTimeout(this.#leaving.get(msg.member));
      this.#leaving.delete(msg.member);
      return;
    }
    const member = this.#members.get(msg.member);
    if (member) member.receive(msg, raw);
    else if (raw) this.giveBack(channel, msg, raw);
    else if (msg.op === "dgram") {
      // A datagram for a UDP member that closed: for the others.
      channel.send({
        op: "dback",
        key: msg.key,
        data: msg.data,
        from: msg.from,
      });
    }
  }

  /**
   * A connection this side cannot take (its member closed or no longer
   * waits) goes to a sibling: the owner's copy, when it kept one, or this one.
   */
  giveBack(channel: Channel, msg: HubMessage, raw: RawConnection): void {
    if (msg.op !== "conn" || msg.ticket === undefined) {
      return channel.send({ op: "back", key: msg.key }, raw);
    }
    this.handles.close(raw);
    channel.send({ op: "back", key: msg.key, ticket: msg.ticket });
  }

  /** `member` closed: it waits for `left` (or a while) before its side may end. */
  forget(member: Member): boolean {
    if (!this.#members.delete(member.id)) return false;
    const id = member.id;
    // Connections the owner sent before it heard of the leave are still on
    // their way: this side lives until the owner says `left`, so that they
    // arrive and go back rather than die with it.
    this.#leaving.set(id, setTimeout(() => this.#leaving.delete(id), LEFT_MS));
    return true;
  }

  /** Whether `member` is still open here. */
  has(member: Member): boolean {
    return this.#members.get(member.id) === member;
  }
}

/** An accept waiting for the owner's answer. */
interface Pending {
  resolve(stream: NativeStream<ShareAddress>): void;
  reject(err: Error): void;
}

/** A listener in a thread or process other than the owner's. */
export class RemoteMember implements NativeListener<ShareAddress>, Member {
  readonly id: string;
  readonly addr: ShareAddress;
  #borrower: Borrower;
  #channel: Channel;
  #request: ShareRequest;
  #key: string;
  #refed = true;
  /** Whether this member's pending accept holds the event loop open. */
  #holding = false;
  #pending: Pending | null = null;

  constructor(
    borrower: Borrower,
    channel: Channel,
    request: ShareRequest,
    id: string,
  ) {
    this.#borrower = borrower;
    this.#channel = channel;
    this.id = id;
    const { key, addr } = channel.listen(request, id);
    this.#key = key;
    this.addr = addr;
    // Joining again (the socket moved) names the port it got; a path is
    // its own name.
    this.#request = "port" in addr ? { ...request, port: addr.port } : request;
  }

  /** The owner's key for this member's address. */
  get key(): string {
    return this.#key;
  }

  /**
   * The hub moved or its owner is gone: joins again wherever the socket is
   * now (or binds it), and waits there if it waited. Throws what the listen
   * throws.
   */
  rejoin(): void {
    if (!this.#borrower.has(this)) return;
    this.#channel.listen(this.#request, this.id);
    if (!this.#refed) this.setRef(false);
    if (this.#pending) this.#sendWant();
  }

  /** A rejoin that failed for good: a waiting accept hears why. */
  fail(err: Error): void {
    this.#settle()?.reject(err);
  }

  accept(): Promise<NativeStream<ShareAddress>> {
    if (!this.#borrower.has(this)) {
      return Promise.reject(NetError.listenerClosed());
    }
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#updateHold();
      this.#sendWant();
    });
  }

  /** A message from the owner for this member. */
  receive(msg: HubMessage, raw: RawConnection | undefined): void {
    if (msg.op === "moved" || msg.op === "left") return; // the channel's
    const pending = this.#settle();
    if (msg.op === "fail") {
      return pending?.reject(revive(msg.name, msg.message));
    }
    if (msg.op !== "conn" || !raw) return;
    if (!pending) return this.#borrower.giveBack(this.#channel, msg, raw);
    const unix = isUnixAddress(this.addr) ? this.addr : undefined;
    pending.resolve(this.#borrower.handles.stream(raw, unix));
    // Taken: the owner may let its copy go.
    if (msg.ticket !== undefined) {
      this.#channel.send({ op: "took", key: msg.key, ticket: msg.ticket });
    }
  }

  setRef(ref: boolean): void {
    this.#refed = ref;
    this.#updateHold();
    this.#channel.send({
      op: "ref",
      key: this.#key,
      member: this.id,
      refed: ref,
    });
  }

  close(): void {
    if (!this.#borrower.forget(this)) return;
    this.#channel.send({ op: "leave", key: this.#key, member: this.id });
    this.#settle()?.reject(NetError.listenerClosed());
  }

  #sendWant(): void {
    this.#channel.send({
      op: "want",
      key: this.#key,
      member: this.id,
      refed: this.#refed,
    });
  }

  /** Takes the pending accept out, to resolve or reject it. */
  #settle(): Pending | null {
    const pending = this.#pending;
    this.#pending = null;
    this.#updateHold();
    return pending;
  }

  /**
   * Channels deliver nothing that holds the event loop open, so a ref'd
   * accept waiting on the owner holds it, as a pending accept would.
   */
  #updateHold(): void {
    const want = this.#pending !== null && this.#refed;
    if (want === this.#holding) return;
    this.#holding = want;
    if (want) hold();
    else release();
  }
}
