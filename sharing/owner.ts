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
  Datagram,
  Handles,
  NativeListener,
  NativeStream,
  RawConnection,
  RawListener,
  ShareAddress,
  SocketAddress,
  Udp,
} from "../platform/types.ts";
import {
  DatagramHub,
  type DatagramOwner,
  LocalDatagramMember,
} from "./datagrams.ts";
import {
  bytesOf,
  type DatagramBind,
  errorAnswer,
  hubKey,
  type HubMessage,
  isDatagramBind,
  type ListenAnswer,
  type MemberMessage,
  type SharedBind,
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
export class Owner implements DatagramOwner {
  readonly handles: Handles;
  #hubs = new Map<string, Hub>();
  #datagrams = new Map<string, DatagramHub>();
  #events: OwnerEvents;
  #udp: Udp | undefined;

  /** `udp`: the runtime's UDP, for the UDP sockets members share. */
  constructor(handles: Handles, events: OwnerEvents = {}, udp?: Udp) {
    this.handles = handles;
    this.#events = events;
    this.#udp = udp;
  }

  /** Whether this owner holds the socket of `key`. */
  holds(key: string): boolean {
    return this.#hubs.has(key) || this.#datagrams.has(key);
  }

  /** The members of the hub of `key` (none if there is no such hub). */
  members(key: string): string[] {
    return this.#hubs.get(key)?.queue.members() ??
      this.#datagrams.get(key)?.members() ?? [];
  }

  /** The UDP hub of `key`, if this owner holds it. */
  hub(key: string): DatagramHub | undefined {
    return this.#datagrams.get(key);
  }

  /**
   * Joins `member` to the hub for the request's address (a TCP address or a
   * Unix socket path), binding the socket if there is none yet (port 0
   * always binds a new one). Throws what the bind throws, synchronously.
   */
  listen(
    request: SharedBind,
    member: string,
  ): { key: string; addr: ShareAddress } {
    if (isDatagramBind(request)) return this.#listenDatagram(request, member);
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

  /** `listen` for a UDP socket: its hub, bound here if there is none. */
  #listenDatagram(
    request: DatagramBind,
    member: string,
  ): { key: string; addr: SocketAddress } {
    let hub = request.port === 0
      ? undefined
      : this.#datagrams.get(hubKey(request));
    if (!hub) {
      const udp = this.#udp;
      if (!udp) throw new TypeError("UDP sockets are not shared here");
      const { transport: _, shared: __, ...bind } = request;
      hub = new DatagramHub(
        (onDatagram) => udp.bind({ ...bind, reusePort: false }, onDatagram),
        (addr) => hubKey({ ...request, port: addr.port }),
      );
      this.#datagrams.set(hub.key, hub);
    }
    hub.join(member);
    return { key: hub.key, addr: hub.socket.addr };
  }

  /** `listen` as a channel answers it: the address, or the bind's error. */
  answer(request: SharedBind, member: string): ListenAnswer {
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

  /** A UDP socket of this thread on the hub that `member` joined (`listen`'s answer). */
  localDatagram(
    joined: { key: string; addr: ShareAddress },
    member: string,
    onDatagram: (d: Datagram) => void,
  ): LocalDatagramMember {
    // A UDP hub's address is an IP and port.
    const addr = joined.addr as SocketAddress;
    return new LocalDatagramMember(
      this,
      { ...joined, addr },
      member,
      onDatagram,
    );
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
    leave(owner, _hub, { key, member }, _raw, reply) {
      owner.leave(key, member);
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
    dwant(owner, _hub, { key, member, n, refed }, _raw, reply) {
      const hub = owner.#datagrams.get(key);
      if (!hub) {
        return reply({
          op: "fail",
          key,
          member,
          ...errorAnswer(NetError.socketClosed()),
        });
      }
      hub.want(member, n, refed, (d) =>
        reply({
          op: "dgram",
          key,
          member,
          data: d.data,
          from: d.from,
          dropped: hub.queue.dropped,
        }));
    },
    dsend(owner, _hub, msg, _raw, reply) {
      const { key, member, ticket } = msg;
      owner.#answerCall(
        key,
        member,
        ticket,
        reply,
        (hub) => hub.socket.send(bytesOf(msg.data), msg.hostname, msg.port),
      );
    },
    dcall(owner, _hub, { key, member, ticket, method, args }, _raw, reply) {
      owner.#answerCall(
        key,
        member,
        ticket,
        reply,
        (hub) => hub.call(method, args),
      );
    },
    dback(owner, _hub, { key, data, from }) {
      const bytes = bytesOf(data);
      owner.#datagrams.get(key)?.queue.push(
        { data: bytes, from },
        bytes.byteLength,
      );
    },
  };

  /** Runs a member's send or setting on the UDP hub of `key`; `dret` says how it ended. */
  #answerCall(
    key: string,
    member: string,
    ticket: number,
    reply: Reply,
    run: (hub: DatagramHub) => unknown,
  ): void {
    new Promise((resolve) => {
      const hub = this.#datagrams.get(key);
      if (!hub) throw NetError.socketClosed();
      resolve(run(hub));
    }).then(
      (value) =>
        reply({
          op: "dret",
          key,
          member,
          ticket,
          value: typeof value === "number" ? value : 0,
        }),
      (err) => reply({ op: "dret", key, member, ticket, ...errorAnswer(err) }),
    );
  }

  /** Every member whose id starts with `prefix` leaves: its thread or process is gone. */
  leaveAll(prefix: string): void {
    for (const hub of [...this.#hubs.values()]) {
      for (const member of hub.queue.members()) {
        if (member.startsWith(prefix)) this.#leave(hub, member);
      }
    }
    for (const hub of [...this.#datagrams.values()]) {
      for (const member of hub.members()) {
        if (member.startsWith(prefix)) this.leave(hub.key, member);
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
    for (const hub of [...this.#datagrams.values()]) {
      for (const member of hub.members()) this.leave(hub.key, member);
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
    if (hub) return this.#leave(hub, member);
    // A UDP socket stays with its owner while any member is left (it is
    // not handed over): the last one out closes it.
    const datagrams = this.#datagrams.get(key);
    if (!datagrams?.leave(member)) return;
    this.#datagrams.delete(key);
    datagrams.close();
    this.#events.closed?.(key);
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
