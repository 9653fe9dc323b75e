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
  readonly queue: AcceptQueue<RawConnection, string>;

  constructor(key: string, listener: RawListener, handles: Handles) {
    this.key = key;
    this.listener = listener;
    this.queue = new AcceptQueue(listener, (raw) => handles.close(raw));
  }

  /** `member` is gone; the last one out closes the socket and frees the address. */
  leave(member: string): void {
    if (!this.queue.leave(member)) return;
    hubs.delete(this.key);
    const held = this.queue.close();
    this.listener.close();
    for (const raw of held) hubHandles?.close(raw);
  }
}

const hubs = new Map<string, Hub>();
let hubHandles: Handles | undefined;

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
    hub = new Hub(addressKey(listener.addr), listener, handles);
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

/** A listener in the hub's own thread: a member that takes connections directly. */
export class HubMember implements NativeListener {
  readonly addr: SocketAddress;
  #handles: Handles;
  #key: string;
  #member: string;
  #refed = true;

  constructor(handles: Handles, request: BindRequest) {
    this.#handles = handles;
    this.#member = newMemberId("local:");
    const { key, addr } = hubListen(handles, request, this.#member);
    this.#key = key;
    this.addr = addr;
  }

  accept(): Promise<NativeStream> {
    return new Promise((resolve, reject) => {
      const hub = hubs.get(this.#key);
      if (!hub) return reject(NetError.listenerClosed());
      hub.queue.want(
        this.#member,
        this.#refed,
        (raw) => resolve(this.#handles.stream(raw)),
        reject,
      );
    });
  }

  setRef(ref: boolean): void {
    this.#refed = ref;
    hubs.get(this.#key)?.queue.setRef(this.#member, ref);
  }

  close(): void {
    hubs.get(this.#key)?.leave(this.#member);
  }
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
    remotes.set(this.#member, this);
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
      this.#channel.send({
        op: "want",
        key: this.#key,
        member: this.#member,
        refed: this.#refed,
      });
    });
  }

  /** A message from the hub for this member. */
  receive(msg: HubMessage, raw: RawConnection | undefined): void {
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
