/**
 * What the hub and its members (threads, the runner's processes) say to each
 * other, and how errors cross: one protocol, whichever channel carries it.
 *
 * @module
 */
import { builtin } from "../platform/builtin.ts";
import { addressKey } from "../core/address.ts";
import * as errors from "../core/errors.ts";
import type {
  ShareAddress,
  ShareRequest,
  SocketAddress,
  UdpBindRequest,
} from "../platform/types.ts";

/** Marks every message of ours (the runner's too), among whatever else a channel carries. */
export const TAG = "@reuseport/net";

/** A UDP socket to share: what a member's `listenDatagram` binds or joins. */
export type DatagramBind = UdpBindRequest & { transport: "udp" };

/** What a member binds or joins: a listening socket (TCP, Unix), or a UDP one. */
export type SharedBind = ShareRequest | DatagramBind;

/** Whether `request` is for a UDP socket. */
export function isDatagramBind(request: SharedBind): request is DatagramBind {
  return (request as { transport?: unknown }).transport === "udp";
}

/** The hub's key for an address: TCP and UDP on one port are two hubs. */
export function hubKey(request: SharedBind): string {
  return isDatagramBind(request)
    ? `udp:${addressKey(request)}`
    : addressKey(request);
}

/**
 * A datagram's bytes on the wire: as they are where the channel clones
 * them (threads), in base64 where it carries JSON (process IPC).
 */
export type WireBytes = Uint8Array | string;

/** A member's `listen()`: bind or join in the hub. */
export interface ListenRequest {
  listen: SharedBind;
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
  | { op: "back"; key: string; ticket?: number }
  /**
   * UDP: `n` more receives wait in the member (fewer, when negative; 0:
   * only `refed` changed); the hub sends one datagram for each.
   */
  | { op: "dwant"; key: string; member: string; n: number; refed: boolean }
  /** UDP: send from the shared socket, so that the reply leaves from its port. */
  | {
    op: "dsend";
    key: string;
    member: string;
    ticket: number;
    data: WireBytes;
    hostname: string;
    port: number;
  }
  /** UDP: a setting of the shared socket (multicast membership, loopback, TTL). */
  | {
    op: "dcall";
    key: string;
    member: string;
    ticket: number;
    method: DatagramCall;
    args: (string | number | boolean)[];
  }
  /** UDP: a datagram that reached a member after it closed, for the others. */
  | { op: "dback"; key: string; data: WireBytes; from: SocketAddress };

/** The settings of a shared UDP socket that members may change. */
export type DatagramCall =
  | "joinMulticastV4"
  | "leaveMulticastV4"
  | "joinMulticastV6"
  | "leaveMulticastV6"
  | "setMulticastLoopback"
  | "setMulticastTTL";

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
  | { op: "moved"; key: string; member: string }
  /** UDP: a datagram for one waiting receive; `dropped`: the hub's drops so far. */
  | {
    op: "dgram";
    key: string;
    member: string;
    data: WireBytes;
    from: SocketAddress;
    dropped: number;
  }
  /** UDP: how a `dsend` or `dcall` ended: bytes sent, or the error. */
  | {
    op: "dret";
    key: string;
    member: string;
    ticket: number;
    value?: number;
    name?: string;
    message?: string;
  };

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

/** A message whose datagram bytes a JSON channel can carry: base64. */
export function packBytes<M extends MemberMessage | HubMessage>(msg: M): M {
  const data = (msg as { data?: unknown }).data;
  if (!(data instanceof Uint8Array)) return msg;
  return {
    ...msg,
    data: builtin("node:buffer").Buffer.from(
      data.buffer,
      data.byteOffset,
      data.byteLength,
    )
      .toString("base64"),
  };
}

/** A datagram's bytes as they came: the receiver's own copy. */
export function bytesOf(data: WireBytes): Uint8Array {
  return typeof data === "string"
    ? new Uint8Array(builtin("node:buffer").Buffer.from(data, "base64"))
    : data;
}
