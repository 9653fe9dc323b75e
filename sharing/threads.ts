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
import { builtin } from "../platform/builtin.ts";
import type * as threads from "node:worker_threads";
import { AddrInUse } from "../core/errors.ts";
import { NetError } from "../core/messages.ts";
import type {
  Datagram,
  Handles,
  NativeDatagramSocket,
  NativeListener,
  RawConnection,
  ShareAddress,
  ShareRequest,
  Udp,
} from "../platform/types.ts";
import { Borrower, type Channel } from "./borrower.ts";
import { RemoteDatagramMember } from "./datagrams.ts";
import { Owner } from "./owner.ts";
import { ThreadHolder } from "./threads_holder.ts";
import {
  ANSWER_BYTES,
  BROADCAST,
  isThreadMessage,
  localPrefix,
  type PortMessage,
  type ThreadMessage,
  transfer,
} from "./threads_wire.ts";
import {
  type DatagramBind,
  hubKey,
  type HubMessage,
  type ListenAnswer,
  type MemberMessage,
  type SharedBind,
  TAG,
  unwrapAnswer,
} from "./wire.ts";

/** How long a `listen()` waits for a holder to answer before the address counts as another process's. */
const ASK_TIMEOUT_MS = 500;
/** The same while joining again, when the old holder may be gone with nobody else holding. */
const REJOIN_ASK_TIMEOUT_MS = 50;
/** Joining again after the holder went: tries, and the pause between them. */
const REJOIN_TRIES = 20;
const REJOIN_PAUSE_MS = 25;

/** Whether `request` asks for a port of its own (port 0), which nobody else holds. */
function isNewPort(request: SharedBind): boolean {
  return "port" in request && request.port === 0;
}

/** The threads' side of sharing, one per thread. */
export class ThreadSharing implements Channel {
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
  /** The side of this thread that holds sockets, as the others reach it. */
  #holder: ThreadHolder;
  #askTimeout = ASK_TIMEOUT_MS;

  constructor(handles: Handles, udp: Udp | undefined) {
    this.#handles = handles;
    this.#owner = new Owner(handles, {
      left: (key) => this.#holder.maybeHandOver(key),
      closed: (key) => this.#routes.delete(key),
    }, udp);
    this.#holder = new ThreadHolder(this.#owner, handles, this.#routes);
    this.#borrower = new Borrower(handles, localPrefix());
    this.#broadcast = new (builtin("node:worker_threads").BroadcastChannel)(
      BROADCAST,
    );
    this.#broadcast.unref();
    this.#broadcast.onmessage = (event: unknown) => {
      const value = (event as { data: unknown }).data;
      if (isThreadMessage(value) && value.op === "who") {
        this.#holder.answer(value);
      }
    };
    builtin("node:process").on("workerMessage", (value: unknown) => {
      if (isThreadMessage(value)) this.#onThreadMessage(value);
    });
    // Leaving tells the holders, so that their connections go to the threads left.
    builtin("node:process").once("exit", () => this.#borrower.closeAll());
  }

  /**
   * A listener on `request`'s address: on this thread's socket, binding it
   * if nobody holds it, with no messages; or a member of the holder thread's.
   */
  open(request: ShareRequest): NativeListener<ShareAddress> {
    const member = this.#borrower.newMember();
    try {
      return this.#owner.local(this.#bindHere(request, member), member);
    } catch (err) {
      if (!(err instanceof AddrInUse) || isNewPort(request)) throw err;
      // Where only TCP handles move between threads (Node's pipe handles
      // cannot be transferred), the thread that holds a path keeps it.
      const unix = "path" in request ? this.#handles.unixThreads : undefined;
      if (unix && !unix.moves) {
        throw NetError.unixThreadsCannotShare(err, unix.reason);
      }
      return this.#borrower.join(this, request);
    }
  }

  /**
   * A UDP socket on `request`'s address: this thread's, binding it if
   * nobody holds it; or a member of the holder thread's.
   */
  openDatagram(
    request: DatagramBind,
    onDatagram: (d: Datagram) => void,
  ): NativeDatagramSocket {
    const member = this.#borrower.newMember();
    try {
      const joined = this.#bindHere(request, member);
      return this.#owner.localDatagram(joined, member, onDatagram);
    } catch (err) {
      if (!(err instanceof AddrInUse) || request.port === 0) throw err;
      return new RemoteDatagramMember(
        this.#borrower,
        this,
        request,
        onDatagram,
      );
    }
  }

  /** Binds or joins `request` in this thread's own hubs. */
  #bindHere(request: SharedBind, member: string): {
    key: string;
    addr: ShareAddress;
  } {
    const joined = this.#owner.listen(request, member);
    this.#routes.set(joined.key, "here");
    return joined;
  }

  /** Binds `request` here, or joins the thread that holds it. */
  listen(request: SharedBind, member: string): {
    key: string;
    addr: ShareAddress;
  } {
    const key = hubKey(request);
    try {
      return this.#bindHere(request, member);
    } catch (err) {
      if (!(err instanceof AddrInUse) || isNewPort(request)) throw err;
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
    request: SharedBind,
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
    const { port1, port2 } =
      new (builtin("node:worker_threads").MessageChannel)();
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
    builtin("node:worker_threads").postMessageToThread(
      holder,
      {
        tag: TAG,
        op: "port",
        from: builtin("node:worker_threads").threadId,
        port: port2,
      },
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

  #onThreadMessage(message: ThreadMessage): void {
    if (message.op === "port") {
      return this.#holder.servePort(message.from, message.port);
    }
    if (message.op === "adopt") {
      this.#holder.adopt(message.state);
      // Our own members waited at the old holder: they wait here now.
      this.#rejoin(message.state.key);
      return;
    }
    if (message.op === "forward") {
      this.#holder.forwarded(message.msg, message.raw);
    }
  }
}

/**
 * This thread's side of sharing between threads, where `handles` can move
 * between threads (`undefined` elsewhere): `open()` makes a listener.
 */
export function threadSharing(
  handles: Handles,
  udp?: Udp,
): ThreadSharing | undefined {
  return handles.threads ? new ThreadSharing(handles, udp) : undefined;
}
