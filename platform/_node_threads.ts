/**
 * Worker threads of one Node process sharing a listening socket. The main
 * thread is the hub: it owns every shared socket and moves each connection to
 * the thread whose listener waits for it (`postMessageToThread` with the
 * handle in the transfer list). A worker's `listen()` asks the main thread to
 * bind or join and blocks on the answer, so it stays synchronous.
 *
 * This needs a Node that can move TCP handles between threads (24 and later:
 * `net.Server` and `net.Socket` became transferable) and this module loaded in
 * the main thread before the workers start (it leaves a mark in the workers'
 * environment data). Elsewhere `threadChannel()` is `undefined`.
 *
 * @module
 */
import { subscribe } from "node:diagnostics_channel";
import { Server } from "node:net";
import process from "node:process";
import * as threads from "node:worker_threads";
import {
  type Channel,
  closeRemotes,
  hubLeaveAll,
  hubListen,
  type HubMessage,
  hubReceive,
  type MemberMessage,
  remoteReceive,
  revive,
} from "./_hub.ts";
import type { RawConnection } from "./_node_listener.ts";
import type { BindRequest, SocketAddress } from "./types.ts";

const MARK = "@reuseport/net:thread-hub";
const TAG = "@reuseport/net";
/** Bytes for a `listen` answer: an address or an error message. */
const ANSWER_BYTES = 4096;
/** A main thread busy for longer than this fails the worker's `listen()`. */
const ANSWER_TIMEOUT_MS = 10_000;

type Envelope =
  | {
    tag: typeof TAG;
    listen: BindRequest;
    member: string;
    answer: SharedArrayBuffer;
  }
  | { tag: typeof TAG; msg: MemberMessage | HubMessage; raw?: RawConnection };

type Answer =
  | { key: string; addr: SocketAddress }
  | { name: string; message: string };

/** Member ids of the thread `threadId` start with this. */
export function memberPrefix(threadId: number): string {
  return `t${threadId}:`;
}

/** Whether this Node can move TCP handles between threads, tested by feature. */
export function threadsCanShare(): boolean {
  if (typeof threads.postMessageToThread !== "function") return false;
  return Object.getOwnPropertySymbols(Server.prototype).some((s) =>
    s.description === "messaging_transfer_symbol"
  );
}

function isEnvelope(value: unknown): value is Envelope {
  return (value as { tag?: unknown } | null)?.tag === TAG;
}

/** Sends to a thread; a thread that is gone is reported to `onGone`. */
function post(
  threadId: number,
  envelope: Envelope,
  raw: RawConnection | undefined,
  onGone: () => void,
): void {
  threads.postMessageToThread(
    threadId,
    envelope,
    (raw ? [raw] : []) as unknown as threads.Transferable[],
  )
    .catch(onGone);
}

function writeAnswer(buffer: SharedArrayBuffer, answer: Answer): void {
  const bytes = new TextEncoder().encode(JSON.stringify(answer));
  const state = new Int32Array(buffer, 0, 2);
  new Uint8Array(buffer, 8).set(bytes.subarray(0, ANSWER_BYTES - 8));
  state[1] = Math.min(bytes.byteLength, ANSWER_BYTES - 8);
  Atomics.store(state, 0, 1);
  Atomics.notify(state, 0);
}

/** The main thread's side: binds for workers and routes their messages. */
function serveWorkers(): void {
  // A thread that ends leaves, even when its own `leave` was lost with it:
  // Node drops what a thread posted to the main thread and was not yet
  // handled when the thread exits. (Workers of workers are not seen here.)
  subscribe("worker_threads", (message) => {
    const { worker } = message as { worker: threads.Worker };
    const id = worker.threadId;
    worker.once("exit", () => hubLeaveAll(memberPrefix(id)));
  });
  process.on("workerMessage", (value: unknown, source: number) => {
    if (!isEnvelope(value)) return;
    if ("listen" in value) {
      let answer: Answer;
      try {
        answer = hubListen(value.listen, value.member);
      } catch (err) {
        answer = { name: (err as Error).name, message: (err as Error).message };
      }
      return writeAnswer(value.answer, answer);
    }
    const msg = value.msg as MemberMessage;
    hubReceive(
      msg,
      value.raw,
      (reply, raw) =>
        post(source, { tag: TAG, msg: reply, raw }, raw, () => {
          // The thread is gone: so are its members; the connection goes to another.
          hubLeaveAll(memberPrefix(source));
          if (raw) hubReceive({ op: "back", key: msg.key }, raw, () => {});
        }),
    );
  });
}

let channel: Channel | undefined;

/** A worker's way to the main thread's hub. */
function workerChannel(): Channel {
  const toHub: Channel = {
    listen(request: BindRequest, member: string) {
      const answer = new SharedArrayBuffer(ANSWER_BYTES);
      const state = new Int32Array(answer, 0, 2);
      post(0, { tag: TAG, listen: request, member, answer }, undefined, () => {
        writeAnswer(answer, {
          name: "AddrInUse",
          message: "the main thread does not answer",
        });
      });
      // The main thread answers from its event loop; this thread waits, so
      // that `listen()` returns or throws before it returns, as on Deno.
      if (Atomics.wait(state, 0, 0, ANSWER_TIMEOUT_MS) === "timed-out") {
        throw revive(
          "TimedOut",
          `listen(): the main thread did not answer within ${ANSWER_TIMEOUT_MS} ms`,
        );
      }
      const text = new TextDecoder().decode(
        new Uint8Array(answer, 8, state[1]).slice(),
      );
      const result = JSON.parse(text) as Answer;
      if ("name" in result) throw revive(result.name, result.message);
      return result;
    },
    send(msg: MemberMessage, raw?: RawConnection) {
      post(0, { tag: TAG, msg, raw }, raw, () => {});
    },
  };
  process.on("workerMessage", (value: unknown) => {
    if (isEnvelope(value) && "msg" in value) {
      remoteReceive(toHub, value.msg as HubMessage, value.raw);
    }
  });
  // Leaving tells the hub, so that its connections go to the threads left.
  process.once("exit", closeRemotes);
  return toHub;
}

/**
 * In a worker thread whose main thread shares sockets: the channel to it.
 * `undefined` in the main thread and wherever threads cannot share.
 */
export function threadChannel(): Channel | undefined {
  if (threads.isMainThread || threads.getEnvironmentData(MARK) !== true) {
    return undefined;
  }
  channel ??= workerChannel();
  return channel;
}

/** Whether this is the main thread and it shares its sockets with workers. */
export function isThreadHub(): boolean {
  return threads.isMainThread && hubStarted;
}

let hubStarted = false;

/** Called once when the Node runtime loads: the main thread becomes the hub. */
export function startThreadHub(): void {
  if (hubStarted || !threads.isMainThread || !threadsCanShare()) return;
  hubStarted = true;
  threads.setEnvironmentData(MARK, true);
  serveWorkers();
}
