/**
 * One listening socket shared by listeners in several threads or processes:
 * the hub (in the main thread, or the parallel runner's primary) owns the
 * socket and hands each connection to one member that waits in `accept()`,
 * in turn, on the one accept queue (`core/accept_queue.ts`). A member here
 * is one thread's or process's listener for the address; inside a member,
 * `ops/tcp.ts` shares it between that side's own listeners on the same
 * machine.
 *
 * How handles and messages travel (thread messages, process IPC) is the
 * `Channel` of `threads.ts` and `processes.ts`; what they say is `wire.ts`.
 *
 * @module
 */
import { AcceptQueue } from "../core/accept_queue.ts";
import { addressKey } from "../core/address.ts";
import { NetError } from "../core/messages.ts";
import type {
  BindRequest,
  Handles,
  NativeListener,
  NativeStream,
  RawConnection,
  RawListener,
  SocketAddress,
} from "../platform/types.ts";
import {
  errorAnswer,
  type HubMessage,
  type MemberMessage,
  revive,
} from "./wire.ts";

/** The members of one address and the socket they share. */
class Hub {
  readonly key: string;
  readonly listener: RawListener;
  readonly backlog: number;
  readonly queue: AcceptQueue<RawConnection, string>;

  constructor(
    key: string,
    listener: RawListener,
    backlog: number,
    handles: Handles,
  ) {
    this.key = key;
    this.listener = listener;
    this.backlog = backlog;
    this.queue = new AcceptQueue(listener, (raw) => handles.close(raw));
  }

  /** `member` is gone; the last one out closes the socket and frees the address. */
  leave(member: string): void {
    if (!this.queue.leave(member)) return afterLeave(this.key);
    hubs.delete(this.key);
    const held = this.queue.close();
    this.listener.close();
    for (const raw of held) hubHandles?.close(raw);
  }
}

const hubs = new Map<string, Hub>();
let hubHandles: Handles | undefined;
let afterLeave: (key: string) => void = () => {};

/** `hook` hears of every member that leaves a hub others stay in. */
export function onHubLeave(hook: (key: string) => void): void {
  afterLeave = hook;
}

/** Whether this thread or process holds the socket of `key`. */
export function hubHolds(key: string): boolean {
  return hubs.has(key);
}

/** The members of the hub of `key` (none if there is no such hub). */
export function hubMembers(key: string): string[] {
  return hubs.get(key)?.queue.members() ?? [];
}

/** A hub as it moves to another thread: its socket and what it held. */
export interface HubState {
  key: string;
  addr: SocketAddress;
  backlog: number;
  members: string[];
  /** The listening socket, released. */
  handle: object;
  /** Connections accepted and not yet taken. */
  held: RawConnection[];
}

/**
 * Takes the hub of `key` out of this thread without closing its socket, for
 * another thread to `hubAdopt`. Its members' waits are dropped: they wait
 * again at the new holder.
 */
export function hubRelease(key: string): HubState | undefined {
  const hub = hubs.get(key);
  const released = hub?.listener.release?.();
  if (!hub || !released) return undefined;
  hubs.delete(key);
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
export function hubAdopt(handles: Handles, state: HubState): void {
  hubHandles = handles;
  const listener = handles.adopt!(state.handle, state.addr, state.backlog);
  const hub = new Hub(state.key, listener, state.backlog, handles);
  for (const member of state.members) hub.queue.join(member);
  for (const raw of state.held) hub.queue.offer(raw);
  hubs.set(state.key, hub);
}

/**
 * Joins `member` to the hub for the request's address, binding the socket if
 * there is none yet (port 0 always binds a new one). Throws what the bind
 * throws, synchronously.
 */
export function hubListen(
  handles: Handles,
  request: BindRequest,
  member: string,
): { key: string; addr: SocketAddress } {
  hubHandles = handles;
  let hub = request.port === 0 ? undefined : hubs.get(addressKey(request));
  if (!hub) {
    const listener = handles.bind({ ...request, reusePort: false });
    hub = new Hub(
      addressKey(listener.addr),
      listener,
      request.backlog,
      handles,
    );
    hubs.set(hub.key, hub);
  }
  hub.queue.join(member);
  return { key: hub.key, addr: hub.listener.addr };
}

/** `hubListen` as a channel answers it: the address, or the bind's error. */
export function hubListenAnswer(
  handles: Handles,
  request: BindRequest,
  member: string,
): { key: string; addr: SocketAddress } | { name: string; message: string } {
  try {
    return hubListen(handles, request, member);
  } catch (err) {
    return errorAnswer(err);
  }
}

/** Every member whose id starts with `prefix` leaves: its thread or process is gone. */
export function hubLeaveAll(prefix: string): void {
  for (const hub of [...hubs.values()]) {
    for (const member of hub.queue.members()) {
      if (member.startsWith(prefix)) hub.leave(member);
    }
  }
}

/**
 * Handles a member's message in the hub. `reply` sends to that member, with a
 * connection handle when there is one.
 */
export function hubReceive(
  msg: MemberMessage,
  raw: RawConnection | undefined,
  reply: (msg: HubMessage, raw?: RawConnection) => void,
): void {
  const hub = hubs.get(msg.key);
  if (msg.op === "back") {
    // A connection a member got but could no longer take: next in line.
    if (raw && hub) hub.queue.offer(raw, true);
    else if (raw) hubHandles?.close(raw);
    return;
  }
  if (msg.op === "leave") return hub?.leave(msg.member);
  if (msg.op === "ref") return hub?.queue.setRef(msg.member, msg.refed);
  const { key, member } = msg;
  const fail = (err: Error) =>
    reply({ op: "fail", key, member, ...errorAnswer(err) });
  if (!hub) return fail(NetError.listenerClosed());
  hub.queue.want(
    member,
    msg.refed,
    (r) => reply({ op: "conn", key, member }, r),
    fail,
  );
}

let memberCount = 0;

/** A new member id: `prefix` names the thread or process, unique across them. */
function newMemberId(prefix: string): string {
  return `${prefix}${++memberCount}`;
}

/** How a member in another thread or process reaches the hub. */
export interface Channel {
  /** Binds or joins in the hub, synchronously; throws what the bind threw. */
  listen(request: BindRequest, member: string): {
    key: string;
    addr: SocketAddress;
  };
  /** Sends to the hub, with a connection handle when there is one. */
  send(msg: MemberMessage, raw?: RawConnection): void;
}

const remotes = new Map<string, RemoteMember>();
let keepAlive: ReturnType<typeof setInterval> | undefined;

/**
 * Channels deliver nothing that holds the event loop open, so a ref'd accept
 * waiting on the hub holds it with a timer, as a pending accept would.
 */
function updateKeepAlive(): void {
  const needed = [...remotes.values()].some((r) => r.holdsProcess);
  if (needed && !keepAlive) keepAlive = setInterval(() => {}, 1 << 30);
  if (!needed && keepAlive) {
    clearInterval(keepAlive);
    keepAlive = undefined;
  }
}

/** A listener in a thread or process other than the hub's. */
export class RemoteMember implements NativeListener {
  readonly addr: SocketAddress;
  #channel: Channel;
  #handles: Handles;
  #request: BindRequest;
  #key: string;
  #member: string;
  #refed = true;
  #pending: {
    resolve(stream: NativeStream): void;
    reject(err: Error): void;
  } | null = null;

  constructor(
    channel: Channel,
    handles: Handles,
    request: BindRequest,
    prefix: string,
  ) {
    this.#channel = channel;
    this.#handles = handles;
    this.#member = newMemberId(prefix);
    const { key, addr } = channel.listen(request, this.#member);
    this.#key = key;
    this.addr = addr;
    // Joining again (the socket moved) names the port it got.
    this.#request = { ...request, port: addr.port };
    remotes.set(this.#member, this);
  }

  /** The hub's key for this member's address. */
  get key(): string {
    return this.#key;
  }

  /**
   * The hub moved or its holder is gone: joins again wherever the socket is
   * now (or binds it), and waits there if it waited. Throws what the listen
   * throws.
   */
  rejoin(): void {
    if (!remotes.has(this.#member)) return;
    this.#channel.listen(this.#request, this.#member);
    if (!this.#refed) this.setRef(false);
    if (this.#pending) this.#sendWant();
  }

  /** A rejoin that failed for good: a waiting accept hears why. */
  fail(err: Error): void {
    this.#pending?.reject(err);
    this.#pending = null;
    updateKeepAlive();
  }

  /** Whether a pending accept should keep this thread or process alive. */
  get holdsProcess(): boolean {
    return this.#pending !== null && this.#refed;
  }

  accept(): Promise<NativeStream> {
    if (!remotes.has(this.#member)) {
      return Promise.reject(NetError.listenerClosed());
    }
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      updateKeepAlive();
      this.#sendWant();
    });
  }

  #sendWant(): void {
    this.#channel.send({
      op: "want",
      key: this.#key,
      member: this.#member,
      refed: this.#refed,
    });
  }

  /** A message from the hub for this member. */
  receive(msg: HubMessage, raw: RawConnection | undefined): void {
    if (msg.op === "moved") return; // the channel joins again
    const pending = this.#pending;
    this.#pending = null;
    updateKeepAlive();
    if (msg.op === "fail") {
      return pending?.reject(revive(msg.name, msg.message));
    }
    if (!raw) return;
    if (pending) pending.resolve(this.#handles.stream(raw));
    // Closed or no longer waiting: the connection goes to a sibling.
    else this.#channel.send({ op: "back", key: this.#key }, raw);
  }

  setRef(ref: boolean): void {
    this.#refed = ref;
    updateKeepAlive();
    this.#channel.send({
      op: "ref",
      key: this.#key,
      member: this.#member,
      refed: ref,
    });
  }

  close(): void {
    if (!remotes.delete(this.#member)) return;
    this.#channel.send({ op: "leave", key: this.#key, member: this.#member });
    this.#pending?.reject(NetError.listenerClosed());
    this.#pending = null;
    updateKeepAlive();
  }
}

/** Closes every member of this thread or process: it is going away. */
export function closeRemotes(): void {
  for (const member of [...remotes.values()]) member.close();
}

/** This thread's or process's members on `key`. */
export function remotesOf(key: string): RemoteMember[] {
  return [...remotes.values()].filter((member) => member.key === key);
}

/** Routes a hub message to its member; a connection for a member that is gone goes back. */
export function remoteReceive(
  channel: Channel,
  msg: HubMessage,
  raw: RawConnection | undefined,
): void {
  const member = remotes.get(msg.member);
  if (member) member.receive(msg, raw);
  else if (raw) channel.send({ op: "back", key: msg.key }, raw);
}
