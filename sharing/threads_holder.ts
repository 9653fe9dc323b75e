/**
 * The holder's side of sharing between worker threads: the thread that
 * holds an address's socket answers who asks for it, serves the ports of
 * the member threads, and, when its own listeners are gone, hands the
 * socket to a thread that still listens.
 *
 * @module
 */
import { builtin } from "../platform/builtin.ts";
import type * as threads from "node:worker_threads";
import type { Handles, RawConnection } from "../platform/types.ts";
import type { HubState, Owner } from "./owner.ts";
import {
  localPrefix,
  memberPrefix,
  type PortMessage,
  type ThreadMessage,
  transfer,
  writeAnswer,
} from "./threads_wire.ts";
import { type MemberMessage, TAG } from "./wire.ts";

/** What this thread holds, as the other threads reach it. */
export class ThreadHolder {
  #owner: Owner;
  #handles: Handles;
  /** Where each key's hub is (shared with the member side): here, or a port. */
  #routes: Map<string, unknown>;
  /** Ports from member threads, by thread. */
  #fromMembers = new Map<number, threads.MessagePort>();
  /** Keys whose hub moved from here, and where to. */
  #moved = new Map<string, number>();

  constructor(owner: Owner, handles: Handles, routes: Map<string, unknown>) {
    this.#owner = owner;
    this.#handles = handles;
    this.#routes = routes;
  }

  /** A hub another thread handed over: its socket listens here now. */
  adopt(state: HubState): void {
    this.#owner.adopt(state);
    this.#routes.set(state.key, "here");
  }

  /** A thread asks who holds an address: this one answers if it does. */
  answer(value: Extract<ThreadMessage, { op: "who" }>): void {
    if (
      this.#routes.get(value.key) !== "here" || !this.#owner.holds(value.key)
    ) return;
    writeAnswer(value.answer, {
      ...this.#owner.answer(value.request, value.member),
      holder: builtin("node:worker_threads").threadId,
    });
  }

  /** The holder's side of a member thread's port. */
  servePort(from: number, port: threads.MessagePort): void {
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
        builtin("node:worker_threads").postMessageToThread(movedTo, {
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
  forwarded(msg: MemberMessage, raw?: RawConnection): void {
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
  maybeHandOver(key: string): void {
    if (this.#routes.get(key) !== "here") return;
    const members = this.#owner.members(key);
    if (members.some((m) => m.startsWith(localPrefix()))) return;
    const heir = members
      .map((m) => Number(/^t(\d+):/.exec(m)?.[1]))
      .find((thread) => this.#fromMembers.has(thread));
    if (heir === undefined) return;
    const state = this.#owner.release(key);
    if (!state) return;
    this.#routes.delete(key);
    this.#moved.set(key, heir);
    builtin("node:worker_threads").postMessageToThread(
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
