/**
 * Worker threads of one Node process sharing a listening socket. The main
 * thread is the hub: it owns every shared socket and moves each connection to
 * the thread whose listener waits for it (`postMessageToThread` with the
 * handle in the transfer list). A worker's `listen()` asks the main thread to
 * bind or join and blocks on the answer, so it stays synchronous.
 *
 * This needs a runtime that can move TCP handles between threads (Node 24
 * and later: `Handles.threads`) and the hub started in the main thread before
 * the workers start (it leaves a mark in the workers' environment data).
 * Elsewhere `threadChannel()` is `undefined`.
 *
 * @module
 */
import { subscribe } from "node:diagnostics_channel";
import process from "node:process";
import * as threads from "node:worker_threads";
import type { BindRequest, Handles, RawConnection } from "../platform/types.ts";
import {
  type Channel,
  closeRemotes,
  hubLeaveAll,
  hubListenAnswer,
  hubReceive,
  remoteReceive,
} from "./hub.ts";
import {
  type HubMessage,
  type ListenAnswer,
  type MemberMessage,
  revive,
  TAG,
  unwrapAnswer,
} from "./wire.ts";

const MARK = "@reuseport/net:thread-hub";
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

/** Member ids of the thread `threadId` start with this. */
export function memberPrefix(threadId: number): string {
  return `t${threadId}:`;
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

function writeAnswer(buffer: SharedArrayBuffer, answer: ListenAnswer): void {
  const bytes = new TextEncoder().encode(JSON.stringify(answer));
  const state = new Int32Array(buffer, 0, 2);
  new Uint8Array(buffer, 8).set(bytes.subarray(0, ANSWER_BYTES - 8));
  state[1] = Math.min(bytes.byteLength, ANSWER_BYTES - 8);
  Atomics.store(state, 0, 1);
  Atomics.notify(state, 0);
}

/** The main thread's side: binds for workers and routes their messages. */
function serveWorkers(handles: Handles): void {
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
      return writeAnswer(
        value.answer,
        hubListenAnswer(handles, value.listen, value.member),
      );
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
      return unwrapAnswer(JSON.parse(text) as ListenAnswer);
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

/**
 * Makes the main thread the hub for the workers it starts from now on, where
 * `handles` can move between threads. Once; elsewhere nothing.
 */
export function startThreadHub(handles: Handles): void {
  if (hubStarted || !threads.isMainThread || !handles.threads) return;
  hubStarted = true;
  threads.setEnvironmentData(MARK, true);
  serveWorkers(handles);
}
