/**
 * What the hub and its members (threads, the runner's processes) say to each
 * other, and how errors cross: one protocol, whichever channel carries it.
 *
 * @module
 */
import * as errors from "../core/errors.ts";
import type { ShareAddress, ShareRequest } from "../platform/types.ts";

/** Marks every message of ours (the runner's too), among whatever else a channel carries. */
export const TAG = "@reuseport/net";

/** A member's `listen()`: bind or join in the hub. */
export interface ListenRequest {
  listen: ShareRequest;
  member: string;
}

/** The hub's answer to a `listen()`: where it listens, or the bind's error. */
export type ListenAnswer =
  | { key: string; addr: ShareAddress }
  | { name: string; message: string };

/**
 * Messages from members. A connection that came with a `ticket` (the hub
 * kept its copy) is answered: `took` once the member's accept resolved with
 * it (the hub closes its copy), or `back` with the ticket and no handle when
 * it could not take it (the hub offers its copy to the next in line). One
 * that came without a ticket (moved, not copied) goes `back` with its handle.
 */
export type MemberMessage =
  | { op: "want"; key: string; member: string; refed: boolean }
  | { op: "ref"; key: string; member: string; refed: boolean }
  | { op: "leave"; key: string; member: string }
  | { op: "took"; key: string; ticket: number }
  | { op: "back"; key: string; ticket?: number };

/**
 * Messages to a member; `ticket`: the hub keeps a copy until `took` or
 * `back`. `left` answers a `leave`: nothing more comes for that member, so
 * every connection sent to it before has arrived (and gone back).
 */
export type HubMessage =
  | { op: "conn"; key: string; member: string; ticket?: number }
  | { op: "fail"; key: string; member: string; name: string; message: string }
  | { op: "left"; key: string; member: string }
  /** The socket of `key` moved to another thread: join it there. */
  | { op: "moved"; key: string; member: string };

/** A hub or member message in its envelope: `{ tag, msg }`. */
export function isEnvelope(
  value: unknown,
): value is { tag: typeof TAG; msg: MemberMessage | HubMessage } {
  const v = value as { tag?: unknown; msg?: unknown } | null;
  return v?.tag === TAG && typeof v.msg === "object" && v.msg !== null;
}

/** An error as it crosses: its class's name and its message. */
export function errorAnswer(err: unknown): { name: string; message: string } {
  return { name: (err as Error).name, message: (err as Error).message };
}

/** An error that crossed, as the class of `errors` it named. */
export function revive(name: string, message: string): Error {
  const Class = (errors as unknown as Record<
    string,
    new (message: string) => Error
  >)[name];
  return typeof Class === "function" ? new Class(message) : new Error(message);
}

/** The address of a `listen()` answer, or its error thrown. */
export function unwrapAnswer(
  answer: ListenAnswer,
): { key: string; addr: ShareAddress } {
  if ("name" in answer) throw revive(answer.name, answer.message);
  return answer;
}
