/**
 * One listening socket shared by listeners in several threads or processes:
 * the hub (in the main thread, or the parallel runner's primary) owns the
 * socket and hands each connection to one member that waits in `accept()`,
 * in turn. A member here is one thread's or process's listener for the
 * address; inside a member, `ops/tcp.ts` shares it between that side's own
 * listeners the same way.
 *
 * How handles and messages travel (thread messages, process IPC) is the
 * `Channel` of `_node_threads.ts` and `_node_processes.ts`.
 *
 * @module
 */
import * as errors from "../errors.ts";
import { BadResource } from "../errors.ts";
import {
  bindTcp,
  RawAcceptor,
  type RawConnection,
  type TcpHandle,
} from "./_node_listener.ts";
import { acceptedStream } from "./_node_handle_stream.ts";
import type {
  BindRequest,
  NativeListener,
  NativeStream,
  SocketAddress,
} from "./types.ts";

/** A member's request for one connection. */
interface Want {
  member: string;
  refed: boolean;
  deliver(raw: RawConnection): void;
  fail(err: Error): void;
}

/** The members of one address and the socket they share. */
class Hub {
  readonly acceptor: RawAcceptor;
  readonly key: string;
  #members = new Set<string>();
  #wants: Want[] = [];
  #ready: RawConnection[] = [];
  #pumping = false;

  constructor(key: string, acceptor: RawAcceptor) {
    this.key = key;
    this.acceptor = acceptor;
  }

  join(member: string): void {
    this.#members.add(member);
  }

  /** Queues `want`; a member has at most one want at a time. */
  want(want: Want): void {
    if (!this.#members.has(want.member)) {
      return want.fail(new BadResource("Listener has been closed"));
    }
    this.#wants = this.#wants.filter((w) => w.member !== want.member);
    const ready = this.#ready.shift();
    if (ready) return want.deliver(ready);
    this.#wants.push(want);
    this.#updateRef();
    this.#pump();
  }

  /** A connection a member got but could no longer take: next in line gets it. */
  giveBack(raw: RawConnection): void {
    if (hubs.get(this.key) !== this) return (raw as TcpHandle).close();
    const want = this.#wants.shift();
    if (want) want.deliver(raw);
    else this.#ready.unshift(raw);
    this.#updateRef();
  }

  setRef(member: string, refed: boolean): void {
    for (const w of this.#wants) if (w.member === member) w.refed = refed;
    this.#updateRef();
  }

  /** `member` is gone; the last one out closes the socket and frees the address. */
  leave(member: string): void {
    if (!this.#members.delete(member)) return;
    this.#wants = this.#wants.filter((w) => w.member !== member);
    this.#updateRef();
    if (this.#members.size > 0) return;
    hubs.delete(this.key);
    this.acceptor.close();
    for (const raw of this.#ready.splice(0)) (raw as TcpHandle).close();
  }

  leaveAll(prefix: string): void {
    for (const member of [...this.#members]) {
      if (member.startsWith(prefix)) this.leave(member);
    }
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    while (this.#wants.length > 0 && hubs.get(this.key) === this) {
      let raw: RawConnection;
      try {
        raw = await this.acceptor.next();
      } catch (err) {
        this.#wants.shift()?.fail(err as Error);
        continue;
      }
      const want = this.#wants.shift();
      if (want) want.deliver(raw);
      else this.#ready.push(raw);
      this.#updateRef();
    }
    this.#pumping = false;
  }

  #updateRef(): void {
    this.acceptor.setRef(this.#wants.some((w) => w.refed));
  }
}

const hubs = new Map<string, Hub>();

/** `ip:port`, `[v6]:port`: one hub per bound address. */
function hubKey(addr: SocketAddress): string {
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}

/**
 * Joins `member` to the hub for the request's address, binding the socket if
 * there is none yet (port 0 always binds a new one). Throws what the bind
 * throws, synchronously.
 */
export function hubListen(
  request: BindRequest,
  member: string,
): { key: string; addr: SocketAddress } {
  let hub = request.port === 0 ? undefined : hubs.get(hubKey(request));
  if (!hub) {
    const { handle, addr } = bindTcp({ ...request, reusePort: false });
    hub = new Hub(hubKey(addr), new RawAcceptor(handle, addr));
    hubs.set(hub.key, hub);
  }
  hub.join(member);
  return { key: hub.key, addr: hub.acceptor.addr };
}

/** Every member whose id starts with `prefix` leaves: its thread or process is gone. */
export function hubLeaveAll(prefix: string): void {
  for (const hub of [...hubs.values()]) hub.leaveAll(prefix);
}

/** Messages from members, as the channels deliver them. */
export type MemberMessage =
  | { op: "want"; key: string; member: string; refed: boolean }
  | { op: "ref"; key: string; member: string; refed: boolean }
  | { op: "leave"; key: string; member: string }
  | { op: "back"; key: string };

/** Messages to a member. */
export type HubMessage =
  | { op: "conn"; key: string; member: string }
  | { op: "fail"; key: string; member: string; name: string; message: string };

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
    if (hub && raw) hub.giveBack(raw);
    else (raw as TcpHandle | undefined)?.close();
    return;
  }
  if (msg.op === "leave") return hub?.leave(msg.member);
  if (msg.op === "ref") return hub?.setRef(msg.member, msg.refed);
  const fail = (err: Error) =>
    reply({
      op: "fail",
      key: msg.key,
      member: msg.member,
      name: err.name,
      message: err.message,
    });
  if (!hub) return fail(new BadResource("Listener has been closed"));
  hub.want({
    member: msg.member,
    refed: msg.refed,
    deliver: (r) => reply({ op: "conn", key: msg.key, member: msg.member }, r),
    fail,
  });
}

let memberCount = 0;

/** A new member id: `prefix` names the thread or process, unique across them. */
function newMemberId(prefix: string): string {
  return `${prefix}${++memberCount}`;
}

/** A listener in the hub's own thread: a member that takes connections directly. */
export class HubMember implements NativeListener {
  readonly addr: SocketAddress;
  #key: string;
  #member: string;
  #refed = true;
  #pending: { reject(err: Error): void } | null = null;

  constructor(request: BindRequest) {
    this.#member = newMemberId("local:");
    const { key, addr } = hubListen(request, this.#member);
    this.#key = key;
    this.addr = addr;
  }

  accept(): Promise<NativeStream> {
    return new Promise((resolve, reject) => {
      const hub = hubs.get(this.#key);
      if (!hub) return reject(new BadResource("Listener has been closed"));
      this.#pending = { reject };
      hub.want({
        member: this.#member,
        refed: this.#refed,
        deliver: (raw) => {
          this.#pending = null;
          resolve(acceptedStream(raw));
        },
        fail: (err) => {
          this.#pending = null;
          reject(err);
        },
      });
    });
  }

  setRef(ref: boolean): void {
    this.#refed = ref;
    hubs.get(this.#key)?.setRef(this.#member, ref);
  }

  close(): void {
    hubs.get(this.#key)?.leave(this.#member);
    this.#pending?.reject(new BadResource("Listener has been closed"));
    this.#pending = null;
  }
}

/** How a member in another thread or process reaches the hub. */
export interface Channel {
  /** Binds or joins in the hub, synchronously; throws what the bind threw. */
  listen(
    request: BindRequest,
    member: string,
  ): { key: string; addr: SocketAddress };
  /** Sends to the hub, with a connection handle when there is one. */
  send(msg: MemberMessage, raw?: RawConnection): void;
}

/** An error from the hub, as the class of `errors` it named. */
export function revive(name: string, message: string): Error {
  const Class = (errors as unknown as Record<
    string,
    new (message: string) => Error
  >)[name];
  return typeof Class === "function" ? new Class(message) : new Error(message);
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
  #key: string;
  #member: string;
  #refed = true;
  #pending: {
    resolve(stream: NativeStream): void;
    reject(err: Error): void;
  } | null = null;

  constructor(channel: Channel, request: BindRequest, prefix: string) {
    this.#channel = channel;
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
      return Promise.reject(new BadResource("Listener has been closed"));
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
    if (pending) pending.resolve(acceptedStream(raw));
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
    this.#pending?.reject(new BadResource("Listener has been closed"));
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
