/**
 * What the hub and its members (threads, the runner's processes) say to each
 * other, and how errors cross: one protocol, whichever channel carries it.
 *
 * @module
 */
import * as errors from "../core/errors.ts";
import type { BindRequest, SocketAddress } from "../platform/types.ts";

/** Marks every message of ours, among whatever else a channel carries. */
export const TAG = "@reuseport/net";

/** A member's `listen()`: bind or join in the hub. */
export interface ListenRequest {
  listen: BindRequest;
  member: string;
}

/** The hub's answer to a `listen()`: where it listens, or the bind's error. */
export type ListenAnswer =
  | { key: string; addr: SocketAddress }
  | { name: string; message: string };

/** Messages from members. */
export type MemberMessage =
  | { op: "want"; key: string; member: string; refed: boolean }
  | { op: "ref"; key: string; member: string; refed: boolean }
  | { op: "leave"; key: string; member: string }
  | { op: "back"; key: string };

/** Messages to a member. */
export type HubMessage =
  | { op: "conn"; key: string; member: string }
  | { op: "fail"; key: string; member: string; name: string; message: string }
  /** The socket of `key` moved to another thread: join it there. */
  | { op: "moved"; key: string; member: string };

/** What the runner sends a worker to stop it. */
export const STOP_MESSAGE: { tag: string; op: "stop" } = {
  tag: TAG,
  op: "stop",
};

/** Whether `value` is the runner's stop. */
export function isStop(value: unknown): boolean {
  const v = value as { tag?: unknown; op?: unknown } | null;
  return v?.tag === TAG && v?.op === "stop";
}

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
): { key: string; addr: SocketAddress } {
  if ("name" in answer) throw revive(answer.name, answer.message);
  return answer;
}
