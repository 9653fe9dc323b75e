/**
 * The side that owns a shared socket: the thread that bound the address
 * first, or the parallel runner's primary. Its `Owner` holds one hub per
 * address (the socket and the members that share it) and hands each
 * connection to one member that waits in `accept()`, in turn, on the one
 * accept queue (`core/accept_queue.ts`). A member is one thread's or
 * process's listener for the address; inside it, `ops/tcp.ts` shares it
 * between that side's own listeners.
 *
 * Members in this very thread wait on the queue directly (`LocalMember`);
 * members elsewhere send `wire.ts` messages, which `receive()` dispatches
 * by kind.
 *
 * @module
 */
import { AcceptQueue } from "../core/accept_queue.ts";
import { addressKey, isUnixAddress } from "../core/address.ts";
import { NetError } from "../core/messages.ts";
import type {
  Handles,
  NativeListener,
  NativeStream,
  RawConnection,
  RawListener,
  ShareAddress,
  ShareRequest,
} from "../platform/types.ts";
import {
  errorAnswer,
  type HubMessage,
  type ListenAnswer,
  type MemberMessage,
} from "./wire.ts";

/** Sends a hub message to the member that a message came from. */
export type Reply = (msg: HubMessage, raw?: RawConnection) => void;

/** A hub as it moves to another thread: its socket and what it held. */
export interface HubState {
  key: string;
  addr: ShareAddress;
  backlog: number;
  members: string[];
  /** The listening socket, released. */
  handle: object;
  /** Connections accepted and not yet taken. */
  held: RawConnection[];
}

/** What an owner tells the channel that carries it. */
export interface OwnerEvents {
  /** A member left the hub of `key`, and others stay. */
  left?(key: string): void;
  /** The hub of `key` closed its socket: the address is free. */
  closed?(key: string): void;
}

/** The members of one address and the socket they share. */
class Hub {
  readonly key: string;
  readonly listener: RawListener<ShareAddress>;
  readonly backlog: number;
  readonly queue: AcceptQueue<RawConnection, string>;

  constructor(
    key: string,
    listener: RawListener<ShareAddress>,
    backlog: number,
    handles: Handles,
  ) {
    this.key = key;
    this.listener = listener;
    this.backlog = backlog;
    this.queue = new AcceptQueue(listener, (raw) => handles.close(raw));
  }
}

/** What `receive()` does with each kind of member message. */
type Handlers = {
  [K in MemberMessage["op"]]: (
    owner: Owner,
    hub: Hub | undefined,
    msg: Extract<MemberMessage, { op: K }>,
    raw: RawConnection | undefined,
    reply: Reply,
    lends: boolean,
  ) => void;
};

/** The hubs of this thread or process, by address. */
export class Owner {
  readonly handles: Handles;
  #hubs = new Map<string, Hub>();
  #events: OwnerEvents;

  constructor(handles: Handles, events: OwnerEvents = {}) {
    this.handles = handles;
    this.#events = events;
  }

  /** Whether this owner holds the socket of `key`. */
  holds(key: string): boolean {
    return this.#hubs.has(key);
  }

  /** The members of the hub of `key` (none if there is no such hub). */
  members(key: string): string[] {
    return this.#hubs.get(key)?.queue.members() ?? [];
  }

  /**
   * Joins `member` to the hub for the request's address (a TCP address or a
   * Unix socket path), binding the socket if there is none yet (port 0
   * always binds a new one). Throws what the bind throws, synchronously.
   */
  listen(
    request: ShareRequest,
    member: string,
  ): { key: string; addr: ShareAddress } {
    const unix = "path" in request;
    let hub = !unix && request.port === 0
      ? undefined
      : this.#hubs.get(addressKey(request));
    if (!hub) {
      const listener = this.handles.bind(
        unix ? request : { ...request, reusePort: false },
      );
      hub = new Hub(
        addressKey(listener.addr),
        listener,
        request.backlog,
        this.handles,
      );
      this.#hubs.set(hub.key, hub);
    }
    hub.queue.join(member);
    return { key: hub.key, addr: hub.listener.addr };
  }

  /** `listen` as a channel answers it: the address, or the bind's error. */
  answer(request: ShareRequest, member: string): ListenAnswer {
    try {
      return this.listen(request, member);
    } catch (err) {
      return errorAnswer(err);
    }
  }

  /** A listener of this thread on the hub that `member` joined (`listen`'s answer). */
  local(
    joined: { key: string; addr: ShareAddress },
    member: string,
  ): NativeListener<ShareAddress> {
    return new LocalMember(this, joined.key, joined.addr, member);
  }

  /**
   * Handles a member's message. `reply` sends to that member, with a
   * connection handle when there is one. `lends`: the channel copies handles
   * (process IPC), so the owner keeps its copy of each connection it sends
   * until the member says `took`; one the member gives back, or had when it
   * left, goes to the next in line.
   */
  receive(
    msg: MemberMessage,
    raw: RawConnection | undefined,
    reply: Reply,
    lends = false,
  ): void {
    const handle = Owner.#handlers[msg.op] as Handlers[MemberMessage["op"]];
    handle(this, this.#hubs.get(msg.key), msg as never, raw, reply, lends);
  }

  static #handlers: Handlers = {
    want(_owner, hub, { key, member, refed }, _raw, reply, lends) {
      const fail = (err: Error) =>
        reply({ op: "fail", key, member, ...errorAnswer(err) });
      if (!hub) return fail(NetError.listenerClosed());
      hub.queue.want(member, refed, (raw) => {
        const ticket = lends ? hub.queue.lend(member, raw) : undefined;
        reply({ op: "conn", key, member, ticket }, raw);
      }, fail);
    },
    ref(_owner, hub, { member, refed }) {
      hub?.queue.setRef(member, refed);
    },
    leave(owner, hub, { key, member }, _raw, reply) {
      if (hub) owner.#leave(hub, member);
      reply({ op: "left", key, member });
    },
    took(owner, hub, { ticket }) {
      const copy = hub?.queue.settle(ticket);
      if (copy) owner.handles.close(copy);
    },
    back(owner, hub, { ticket }, raw) {
      if (ticket !== undefined) hub?.queue.giveBack(ticket);
      // A connection a member got but could no longer take: next in line.
      if (raw && hub) hub.queue.offer(raw, true);
      else if (raw) owner.handles.close(raw);
    },
  };

  /** Every member whose id starts with `prefix` leaves: its thread or process is gone. */
  leaveAll(prefix: string): void {
    for (const hub of [...this.#hubs.values()]) {
      for (const member of hub.queue.members()) {
        if (member.startsWith(prefix)) this.#leave(hub, member);
      }
    }
  }

  /**
   * Closes every hub's socket and what it holds: the side that owns them is
   * stopping (a Unix socket's file goes with its socket, as at its last
   * listener's close).
   */
  closeAll(): void {
    // A hub lives while it has members: the last one out closes it.
    for (const hub of [...this.#hubs.values()]) {
      for (const member of hub.queue.members()) this.#leave(hub, member);
    }
  }

  /**
   * Takes the hub of `key` out of this owner without closing its socket, for
   * another thread to `adopt`. Its members' waits are dropped: they wait
   * again at the new holder.
   */
  release(key: string): HubState | undefined {
    const hub = this.#hubs.get(key);
    const released = hub?.listener.release?.();
    if (!hub || !released) return undefined;
    this.#hubs.delete(key);
    const { items, members } = hub.queue.detach();
    return {
      key,
      addr: hub.listener.addr,
      backlog: hub.backlog,
      members,
      handle: released.handle,
      held: [...items, ...released.queued],
    };
  }

  /** Holds a hub that another thread released: its socket listens here now. */
  adopt(state: HubState): void {
    const listener = this.handles.adopt!(
      state.handle,
      state.addr,
      state.backlog,
    );
    const hub = new Hub(state.key, listener, state.backlog, this.handles);
    for (const member of state.members) hub.queue.join(member);
    for (const raw of state.held) hub.queue.offer(raw);
    this.#hubs.set(state.key, hub);
  }

  /** `member` waits on the hub of `key`, from this very thread. */
  wantLocal(
    key: string,
    member: string,
    refed: boolean,
    resolve: (raw: RawConnection) => void,
    reject: (err: Error) => void,
  ): void {
    const hub = this.#hubs.get(key);
    if (hub) hub.queue.want(member, refed, resolve, reject);
    else reject(NetError.listenerClosed());
  }

  /** `member` of `key`'s pending accept keeps the process alive, or not. */
  setRef(key: string, member: string, refed: boolean): void {
    this.#hubs.get(key)?.queue.setRef(member, refed);
  }

  /** `member` leaves the hub of `key`. */
  leave(key: string, member: string): void {
    const hub = this.#hubs.get(key);
    if (hub) this.#leave(hub, member);
  }

  /** `member` is gone; the last one out closes the socket and frees the address. */
  #leave(hub: Hub, member: string): void {
    if (!hub.queue.leave(member)) return this.#events.left?.(hub.key);
    this.#hubs.delete(hub.key);
    const held = hub.queue.close();
    hub.listener.close();
    for (const raw of held) this.handles.close(raw);
    this.#events.closed?.(hub.key);
  }
}

/**
 * A listener in the thread that owns the socket: it waits on the hub's
 * queue directly, with no messages.
 */
class LocalMember implements NativeListener<ShareAddress> {
  readonly addr: ShareAddress;
  #owner: Owner;
  #key: string;
  #member: string;
  #refed = true;
  #closed = false;

  constructor(
    owner: Owner,
    key: string,
    addr: ShareAddress,
    member: string,
  ) {
    this.#owner = owner;
    this.#key = key;
    this.addr = addr;
    this.#member = member;
  }

  accept(): Promise<NativeStream<ShareAddress>> {
    if (this.#closed) return Promise.reject(NetError.listenerClosed());
    const unix = isUnixAddress(this.addr) ? this.addr : undefined;
    return new Promise((resolve, reject) =>
      this.#owner.wantLocal(
        this.#key,
        this.#member,
        this.#refed,
        (raw) => resolve(this.#owner.handles.stream(raw, unix)),
        reject,
      )
    );
  }

  setRef(ref: boolean): void {
    this.#refed = ref;
    this.#owner.setRef(this.#key, this.#member, ref);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#owner.leave(this.#key, this.#member);
  }
}
