/**
 * What worker threads say to each other to share a socket, besides the
 * member and hub messages of `wire.ts` that travel on their ports.
 *
 * @module
 */
import { builtin } from "../platform/builtin.ts";
import type * as threads from "node:worker_threads";
import type { RawConnection } from "../platform/types.ts";
import type { HubState } from "./owner.ts";
import {
  type HubMessage,
  type ListenAnswer,
  type MemberMessage,
  type SharedBind,
  TAG,
} from "./wire.ts";

/** The channel on which a thread asks who holds an address. */
export const BROADCAST = "@reuseport/net:threads";
/** Bytes for a `listen` answer: an address or an error message. */
export const ANSWER_BYTES = 4096;

/** Member ids of the thread `threadId` start with this. */
export function memberPrefix(threadId: number): string {
  return `t${threadId}:`;
}

/** Member ids of this thread start with this. */
export function localPrefix(): string {
  return memberPrefix(builtin("node:worker_threads").threadId);
}

/** Messages between threads, besides the member and hub messages on ports. */
export type ThreadMessage =
  /** Broadcast: who holds `key`? Its holder joins `member` and answers in `answer`. */
  | {
    tag: typeof TAG;
    op: "who";
    key: string;
    request: SharedBind;
    member: string;
    answer: SharedArrayBuffer;
  }
  /** To a holder: the port a thread's members talk on. */
  | { tag: typeof TAG; op: "port"; from: number; port: threads.MessagePort }
  /** To a thread: the socket of a hub, now yours. */
  | { tag: typeof TAG; op: "adopt"; state: HubState }
  /** To a holder, from a thread its hub moved from: a member's message. */
  | { tag: typeof TAG; op: "forward"; msg: MemberMessage; raw?: RawConnection };

export type PortMessage = {
  msg: MemberMessage | HubMessage;
  raw?: RawConnection;
};

/** Whether `value` is one of the threads' messages. */
export function isThreadMessage(value: unknown): value is ThreadMessage {
  return (value as { tag?: unknown } | null)?.tag === TAG &&
    typeof (value as { op?: unknown }).op === "string";
}

/** The transfer list for what a message carries. */
export function transfer(...items: unknown[]): threads.Transferable[] {
  return items.filter((item) => item !== undefined) as threads.Transferable[];
}

/** The holder's answer to a `who`, where the asking thread waits for it. */
export function writeAnswer(
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
