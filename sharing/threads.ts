/**
 * Worker threads of one process sharing a listening socket, whichever thread
 * uses this package first: the thread that binds an address holds its hub;
 * a thread whose bind finds the address taken asks the others (a
 * `BroadcastChannel`) and joins the holder's hub, and from then on talks to
 * it over a `MessagePort` of its own, which carries the connections (TCP
 * handles move in a transfer list: Node 24 and later, `Handles.threads`).
 * A `listen()` stays synchronous: the asking thread blocks until the holder
 * answered.
 *
 * When the holder's own listeners close, it hands the socket, with the
 * connections it holds, to a thread that still listens, so nothing is
 * refused. When the holder thread ends abruptly (`process.exit()`,
 * `terminate()`), its port closes and the others bind the address again.
 *
 * @module
 */
import process from "node:process";
import * as threads from "node:worker_threads";
import { addressKey } from "../core/address.ts";
import { AddrInUse } from "../core/errors.ts";
import type {
  BindRequest,
  Handles,
  NativeListener,
  RawConnection,
  SocketAddress,
} from "../platform/types.ts";
import { Borrower, type Channel } from "./borrower.ts";
import { type HubState, Owner } from "./owner.ts";
import {
  type HubMessage,
  type ListenAnswer,
  type MemberMessage,
  TAG,
  unwrapAnswer,
} from "./wire.ts";

const BROADCAST = "@reuseport/net:threads";
/** Bytes for a `listen` answer: an address or an error message. */
const ANSWER_BYTES = 4096;
/** How long a `listen()` waits for a holder to answer before the address counts as another process's. */
const ASK_TIMEOUT_MS = 500;
/** The same while joining again, when the old holder may be gone with nobody else holding. */
const REJOIN_ASK_TIMEOUT_MS = 50;
/** Joining again after the holder went: tries, and the pause between them. */
const REJOIN_TRIES = 20;
const REJOIN_PAUSE_MS = 25;

/** Member ids of the thread `threadId` start with this. */
export function memberPrefix(threadId: number): string {
  return `t${threadId}:`;
}

const LOCAL = memberPrefix(threads.threadId);

/** Messages between threads, besides the member and hub messages on ports. */
type ThreadMessage =
  /** Broadcast: who holds `key`? Its holder joins `member` and answers in `answer`. */
  | {
    tag: typeof TAG;
    op: "who";
    key: string;
    request: BindRequest;
    member: string;
    answer: SharedArrayBuffer;
  }
  /** To a holder: the port a thread's members talk on. */
  | { tag: typeof TAG; op: "port"; from: number; port: threads.MessagePort }
  /** To a thread: the socket of a hub, now yours. */
  | { tag: typeof TAG; op: "adopt"; state: HubState }
  /** To a holder, from a thread its hub moved from: a member's message. */
  | { tag: typeof TAG; op: "forward"; msg: MemberMessage; raw?: RawConnection };

type PortMessage = { msg: MemberMessage | HubMessage; raw?: RawConnection };

function isThreadMessage(value: unknown): value is ThreadMessage {
  return (value as { tag?: unknown } | null)?.tag === TAG &&
    typeof (value as { op?: unknown }).op === "string";
}

function transfer(...items: unknown[]): threads.Transferable[] {
  return items.filter((item) => item !== undefined) as threads.Transferable[];
}

function writeAnswer(
  buffer: SharedArrayBuffer,
  answer: ListenAnswer & { holder?: number },
): void {
  const bytes = new TextEncoder().encode(JSON.stringify(answer));
  const state = new Int32Array(buffer, 0, 2);
  new Uint8Array(buffer, 8).set(bytes.subarray(0, ANSWER_BYTES - 8));
  state[1] = Math.min(bytes.byteLength, ANSWER_BYTES - 8);
  Atomics.store(state, 0, 1);
  Atomics.notify(state, 0);
}

/** The threads' side of sharing, one per thread. */
class ThreadSharing implements Channel {
  #handles: Handles;
  /** The hubs this thread holds. */
  #owner: Owner;
  /** This thread's members of hubs other threads hold. */
  #borrower: Borrower;
  #broadcast: threads.BroadcastChannel;
  /** Where each key's hub is: here, or the port to its holder. */
  #routes = new Map<string, "here" | threads.MessagePort>();
  /** Ports to holders, by holder thread. */
  #toHolders = new Map<number, threads.MessagePort>();
  /** Ports from member threads, by thread (the holder's side). */
  #fromMembers = new Map<number, threads.MessagePort>();
  /** Keys whose hub moved from here, and where to. */
  #moved = new Map<string, number>();
  #askTimeout = ASK_TIMEOUT_MS;

  constructor(handles: Handles) {
    this.#handles = handles;
    this.#owner = new Owner(handles, {
      left: (key) => this.#maybeHandOver(key),
      closed: (key) => this.#routes.delete(key),
    });
    this.#borrower = new Borrower(handles, LOCAL);
    this.#broadcast = new threads.BroadcastChannel(BROADCAST);
    this.#broadcast.unref();
    this.#broadcast.onmessage = (event: unknown) =>
      this.#onBroadcast((event as { data: unknown }).data);
    process.on("workerMessage", (value: unknown) => {
      if (isThreadMessage(value)) this.#onThreadMessage(value);
    });
    // Leaving tells the holders, so that their connections go to the threads left.
    process.once("exit", () => this.#borrower.closeAll());
  }

  /**
   * A listener on `request`'s address: on this thread's socket, binding it
   * if nobody holds it, with no messages; or a member of the holder thread's.
   */
  open(request: BindRequest): NativeListener {
    const member = this.#borrower.newMember();
    try {
      return this.#owner.local(this.#bindHere(request, member), member);
    } catch (err) {
      if (!(err instanceof AddrInUse) || request.port === 0) throw err;
      return this.#borrower.join(this, request);
    }
  }

  /** Binds or joins `request` in this thread's own hubs. */
  #bindHere(request: BindRequest, member: string): {
    key: string;
    addr: SocketAddress;
  } {
    const joined = this.#owner.listen(request, member);
    this.#routes.set(joined.key, "here");
    return joined;
  }

  /** Binds `request` here, or joins the thread that holds it. */
  listen(request: BindRequest, member: string): {
    key: string;
    addr: SocketAddress;
  } {
    const key = addressKey(request);
    try {
      return this.#bindHere(request, member);
    } catch (err) {
      if (!(err instanceof AddrInUse) || request.port === 0) throw err;
      const answer = this.#ask(key, request, member);
      if (!answer) throw err;
      const joined = unwrapAnswer(answer);
      this.#routes.set(joined.key, this.#portTo(answer.holder!));
      return joined;
    }
  }

  /** Sends a member's message to its key's hub: here, or over the holder's port. */
  send(msg: MemberMessage, raw?: RawConnection): void {
    const route = this.#routes.get(msg.key);
    if (route === "here") {
      this.#owner.receive(
        msg,
        raw,
        (reply, r) => this.#borrower.receive(this, reply, r),
      );
    } else if (route) {
      route.postMessage({ msg, raw } satisfies PortMessage, transfer(raw));
    } else if (raw) {
      this.#handles.close(raw);
    }
  }

  /** Asks the other threads who holds `key`; the holder's answer, or none in time. */
  #ask(
    key: string,
    request: BindRequest,
    member: string,
  ): (ListenAnswer & { holder?: number }) | undefined {
    const answer = new SharedArrayBuffer(ANSWER_BYTES);
    const state = new Int32Array(answer, 0, 2);
    this.#broadcast.postMessage(
      {
        tag: TAG,
        op: "who",
        key,
        request,
        member,
        answer,
      } satisfies ThreadMessage,
    );
    // The holder answers from its event loop; this thread waits, so that
    // `listen()` returns or throws before it returns, as on Deno.
    if (Atomics.wait(state, 0, 0, this.#askTimeout) === "timed-out") {
      return undefined;
    }
    const text = new TextDecoder().decode(
      new Uint8Array(answer, 8, state[1]).slice(),
    );
    return JSON.parse(text);
  }

  /** The port to the holder thread `holder`, made (and sent to it) on first use. */
  #portTo(holder: number): threads.MessagePort {
    const known = this.#toHolders.get(holder);
    if (known) return known;
    const { port1, port2 } = new threads.MessageChannel();
    this.#toHolders.set(holder, port1);
    port1.on("message", ({ msg, raw }: PortMessage) => {
      if (msg.op === "moved") return this.#rejoin(msg.key);
      this.#borrower.receive(this, msg as HubMessage, raw);
      // Nothing more comes for a member that left: the last one takes the
      // route with it.
      if (
        msg.op === "left" && this.#routes.get(msg.key) === port1 &&
        this.#borrower.of(msg.key).length === 0
      ) this.#routes.delete(msg.key);
    });
    // The holder thread ended without handing its sockets over.
    port1.on("close", () => {
      this.#toHolders.delete(holder);
      for (const [key, route] of this.#routes) {
        if (route === port1) this.#rejoin(key);
      }
    });
    port1.unref();
    threads.postMessageToThread(
      holder,
      { tag: TAG, op: "port", from: threads.threadId, port: port2 },
      transfer(port2),
    ).catch(() => port1.close());
    return port1;
  }

  /** The hub of `key` moved or its holder is gone: every member here joins again. */
  #rejoin(key: string, tries = REJOIN_TRIES): void {
    this.#routes.delete(key);
    const failed: Error[] = [];
    this.#askTimeout = REJOIN_ASK_TIMEOUT_MS;
    for (const member of this.#borrower.of(key)) {
      try {
        member.rejoin();
      } catch (err) {
        failed.push(err as Error);
      }
    }
    this.#askTimeout = ASK_TIMEOUT_MS;
    if (failed.length === 0) return;
    // The old holder's socket may not be closed yet: try again shortly.
    if (tries > 1) {
      setTimeout(() => this.#rejoin(key, tries - 1), REJOIN_PAUSE_MS);
    } else for (const member of this.#borrower.of(key)) member.fail(failed[0]);
  }

  #onBroadcast(value: unknown): void {
    if (!isThreadMessage(value) || value.op !== "who") return;
    if (
      this.#routes.get(value.key) !== "here" || !this.#owner.holds(value.key)
    ) return;
    writeAnswer(value.answer, {
      ...this.#owner.answer(value.request, value.member),
      holder: threads.threadId,
    });
  }

  #onThreadMessage(message: ThreadMessage): void {
    if (message.op === "port") {
      return this.#servePort(message.from, message.port);
    }
    if (message.op === "adopt") {
      this.#owner.adopt(message.state);
      this.#routes.set(message.state.key, "here");
      // Our own members waited at the old holder: they wait here now.
      this.#rejoin(message.state.key);
      return;
    }
    if (message.op === "forward") this.#fromHolder(message.msg, message.raw);
  }

  /** The holder's side of a member thread's port. */
  #servePort(from: number, port: threads.MessagePort): void {
    this.#fromMembers.set(from, port);
    port.on("message", ({ msg, raw }: PortMessage) => {
      const member = msg as MemberMessage;
      const movedTo = this.#moved.get(member.key);
      if (movedTo === undefined) {
        return this.#owner.receive(
          member,
          raw,
          (reply, r) =>
            port.postMessage(
              { msg: reply, raw: r } satisfies PortMessage,
              transfer(r),
            ),
        );
      }
      // The hub moved: a wait is made again there; the rest follows it.
      if (member.op === "want") {
        port.postMessage(
          {
            msg: { op: "moved", key: member.key, member: member.member },
          } satisfies PortMessage,
        );
      } else {
        threads.postMessageToThread(movedTo, {
          tag: TAG,
          op: "forward",
          msg: member,
          raw,
        }, transfer(raw))
          .catch(() => raw && this.#handles.close(raw));
      }
    });
    // The member thread ended: its members leave, even if their leave was lost.
    port.on("close", () => {
      this.#fromMembers.delete(from);
      this.#owner.leaveAll(memberPrefix(from));
    });
    port.unref();
  }

  /** A member's message that reached the old holder and followed the hub here. */
  #fromHolder(msg: MemberMessage, raw?: RawConnection): void {
    this.#owner.receive(msg, raw, (reply, r) => {
      // A reply needs the member thread's port: without it, a connection goes back.
      const port = this.#fromMembers.get(
        Number(/^t(\d+):/.exec(reply.member)?.[1]),
      );
      if (port) {
        port.postMessage(
          { msg: reply, raw: r } satisfies PortMessage,
          transfer(r),
        );
      } else if (r) {
        this.#owner.receive({ op: "back", key: reply.key }, r, () => {});
      }
    });
  }

  /**
   * A member left the hub of `key`: when none of this thread's are left but
   * others listen, the socket goes to one of their threads, still open.
   */
  #maybeHandOver(key: string): void {
    if (this.#routes.get(key) !== "here") return;
    const members = this.#owner.members(key);
    if (members.some((m) => m.startsWith(LOCAL))) return;
    const heir = members
      .map((m) => Number(/^t(\d+):/.exec(m)?.[1]))
      .find((thread) => this.#fromMembers.has(thread));
    if (heir === undefined) return;
    const state = this.#owner.release(key);
    if (!state) return;
    this.#routes.delete(key);
    this.#moved.set(key, heir);
    threads.postMessageToThread(
      heir,
      { tag: TAG, op: "adopt", state } satisfies ThreadMessage,
      transfer(state.handle, ...state.held),
    ).catch(() => {
      // The heir is gone too: nobody is left to serve the address.
      this.#moved.delete(key);
      for (const raw of state.held) this.#handles.close(raw);
      this.#handles.close(state.handle);
    });
    // Every other member thread joins the new holder.
    for (const [thread, port] of this.#fromMembers) {
      if (
        thread !== heir &&
        members.some((m) => m.startsWith(memberPrefix(thread)))
      ) {
        port.postMessage(
          { msg: { op: "moved", key, member: "" } } satisfies PortMessage,
        );
      }
    }
  }
}

/**
 * This thread's side of sharing between threads, where `handles` can move
 * between threads (`undefined` elsewhere): `open()` makes a listener.
 */
export function threadSharing(
  handles: Handles,
): { open(request: BindRequest): NativeListener } | undefined {
  return handles.threads ? new ThreadSharing(handles) : undefined;
}
