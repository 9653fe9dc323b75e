/**
 * Processes of the parallel runner sharing a listening socket. The runner's
 * primary is the hub: it binds every shared socket and sends each connection
 * to the child whose listener waits for it, over Node's IPC handle passing.
 * A child's `listen()` asks the primary through a small control socket, from
 * a short synchronous helper process, so that it returns or throws before it
 * returns, as on Deno.
 *
 * @module
 */
import { builtin } from "../platform/builtin.ts";
import type { Server } from "node:net";
import { runSync } from "../platform/run_sync.ts";
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
import {
  type DatagramBind,
  type HubMessage,
  isEnvelope,
  type ListenAnswer,
  type ListenRequest,
  type MemberMessage,
  packBytes,
  type SharedBind,
  TAG,
  unwrapAnswer,
} from "./wire.ts";

/** Runs in a helper process: one request to the control socket, the answer on stdout. */
const ASK = `
const socket = require("net").connect(process.argv[1]);
let answer = "";
socket.setEncoding("utf8");
socket.on("data", (d) => (answer += d));
socket.on("end", () => process.stdout.write(answer));
socket.on("error", (e) => process.stdout.write(JSON.stringify({ name: "AddrInUse", message: "the parallel runner does not answer: " + e.message })));
socket.end(process.argv[2] + "\\n");
`;

/** How long after a child's exit its channel may still deliver its last messages. */
const EXIT_GRACE_MS = 1_000;

interface Ipc {
  send(
    msg: unknown,
    handle?: unknown,
    options?: unknown,
    done?: (err: Error | null) => void,
  ): boolean;
}

/**
 * Sends on an IPC channel (datagram bytes as base64: IPC carries JSON);
 * the sender's copy of a handle closes once it went.
 */
function sendOn(
  ipc: Ipc,
  handles: Handles,
  msg: MemberMessage,
  raw?: RawConnection,
): void {
  ipc.send({ tag: TAG, msg: packBytes(msg) }, raw, {}, () => {
    if (raw) handles.close(raw);
  });
}

/** What a process or thread shares through: listeners, and UDP sockets. */
export interface SharingSide {
  open(request: ShareRequest): NativeListener<ShareAddress>;
  openDatagram(
    request: DatagramBind,
    onDatagram: (d: Datagram) => void,
  ): NativeDatagramSocket;
}

/** A child's side: its members of the primary's hubs, over IPC. */
function childSharing(
  control: string,
  handles: Handles,
): SharingSide {
  const ipc = builtin("node:process") as unknown as Ipc;
  const borrower = new Borrower(
    handles,
    memberPrefix(builtin("node:process").pid),
  );
  const toHub: Channel = {
    listen(request: SharedBind, member: string) {
      const line = JSON.stringify({ listen: request, member } as ListenRequest);
      let answer: ListenAnswer;
      try {
        answer = JSON.parse(runSync(ASK, [control, line]));
      } catch {
        answer = {
          name: "TimedOut",
          message: "listen(): the parallel runner did not answer",
        };
      }
      return unwrapAnswer(answer);
    },
    send(msg: MemberMessage, raw?: RawConnection) {
      if (builtin("node:process").connected) sendOn(ipc, handles, msg, raw);
    },
  };
  builtin("node:process").on(
    "message",
    (value: unknown, raw?: RawConnection) => {
      if (isEnvelope(value)) {
        borrower.receive(toHub, value.msg as HubMessage, raw);
      }
    },
  );
  // Our listener must not hold the child open; pending accepts do that.
  (builtin("node:process").channel as { unref?(): void } | undefined)
    ?.unref?.();
  builtin("node:process").once("exit", () => borrower.closeAll());
  return {
    open: (request) => borrower.join(toHub, request),
    openDatagram: (request, onDatagram) =>
      new RemoteDatagramMember(borrower, toHub, request, onDatagram),
  };
}

/** Member ids of the child `pid` start with this. */
export function memberPrefix(pid: number | undefined): string {
  return `p${pid}:`;
}

/**
 * In a child of the parallel runner (`primary` is its control socket, from
 * `REUSEPORT_PRIMARY`): this process's side of sharing with the primary,
 * where `open()` makes a listener; `undefined` elsewhere.
 */
export function processSharing(
  primary: string | undefined,
  handles: Handles,
): SharingSide | undefined {
  if (!primary || typeof builtin("node:process").send !== "function") {
    return undefined;
  }
  return childSharing(primary, handles);
}

/** The primary's side: the control socket and the children's messages. */
export interface ProcessHub {
  /** The control socket: a child's `REUSEPORT_PRIMARY`, so that its `listen()` finds this hub. */
  readonly primary: string;
  /** Routes the messages of `child` (a forked process with IPC). */
  attach(
    child: Ipc & NodeJS.EventEmitter & { pid?: number; connected: boolean },
  ): void;
  /** Stops answering, closes every shared socket and removes the control socket. */
  close(): void;
}

/** A primary's control folder (`startProcessHub`), with the primary's pid. */
const CONTROL_DIR = /^reuseport-(\d+)-[0-9a-f]{8}-\w{6}$/;

/** Whether a process `pid` runs (one of another user's counts). */
function running(pid: number): boolean {
  try {
    builtin("node:process").kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the control folders of primaries that died without removing
 * theirs (SIGKILL): one whose process is gone and whose socket no longer
 * answers (a primary in another pid namespace that shares this /tmp still
 * answers). Best effort, in the background: what fails stays.
 */
function sweepStale(): void {
  let names: string[];
  try {
    names = builtin("node:fs").readdirSync(builtin("node:os").tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(CONTROL_DIR.exec(name)?.[1]);
    if (!pid || running(pid)) continue;
    const dir = builtin("node:path").join(builtin("node:os").tmpdir(), name);
    const probe = builtin("node:net").connect(
      builtin("node:path").join(dir, "control.sock"),
    );
    probe.unref();
    probe.once("connect", () => probe.destroy());
    probe.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "ECONNREFUSED" && err.code !== "ENOENT") return;
      try {
        builtin("node:fs").rmSync(dir, { recursive: true, force: true });
      } catch {
        // Another user's, or gone meanwhile.
      }
    });
  }
}

/**
 * Makes this process the hub for the children it will fork; `udp`: the
 * runtime's UDP, for the UDP sockets they share.
 */
export function startProcessHub(
  handles: Handles,
  udp?: Udp,
): Promise<ProcessHub> {
  const owner = new Owner(handles, {}, udp);
  const name = `reuseport-${builtin("node:process").pid}-${
    builtin("node:crypto").randomBytes(4).toString("hex")
  }`;
  // Whoever can connect can make the primary bind: the socket goes in a
  // directory of its own that only this user can enter (mkdtemp: 0700).
  const dir = builtin("node:process").platform === "win32"
    ? undefined
    : builtin("node:fs").mkdtempSync(
      builtin("node:path").join(builtin("node:os").tmpdir(), `${name}-`),
    );
  const path = dir
    ? builtin("node:path").join(dir, "control.sock")
    : `\\\\.\\pipe\\${name}`;
  // Set at close(): a request read after it (one a worker sent before it
  // exited, say) would bind a socket that nobody closes any more.
  let closed = false;
  const server: Server = builtin("node:net").createServer((socket) => {
    socket.on("error", () => socket.destroy());
    builtin("node:readline").createInterface({ input: socket }).once(
      "line",
      (line) => {
        if (closed) return void socket.destroy();
        let answer: ListenAnswer;
        try {
          const request = JSON.parse(line) as ListenRequest;
          answer = owner.answer(request.listen, request.member);
        } catch {
          answer = {
            name: "TypeError",
            message: "a listen request that is not JSON",
          };
        }
        socket.end(JSON.stringify(answer));
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", (err) => {
      if (dir) builtin("node:fs").rmSync(dir, { recursive: true, force: true });
      reject(err);
    });
    server.listen(path, () => {
      server.unref();
      if (dir) sweepStale();
      resolve({
        primary: path,
        attach(child) {
          // A child that dies leaves: what it had not accepted, and what it
          // had been sent but not taken, goes to the others.
          const leave = () => owner.leaveAll(memberPrefix(child.pid));
          child.on("message", (value: unknown, raw?: RawConnection) => {
            if (!isEnvelope(value)) return;
            owner.receive(value.msg as MemberMessage, raw, (reply, r) => {
              // A connection goes lent (`reply.ticket`): the hub keeps its
              // copy until the child says it took it, or leaves.
              if (!child.connected) return leave();
              // keepOpen: where a handle is a net.Socket (Bun), sending
              // would otherwise destroy the hub's copy.
              child.send(
                { tag: TAG, msg: packBytes(reply) },
                r,
                { keepOpen: true },
                (err) => {
                  if (err) leave();
                },
              );
            }, true);
          });
          child.once("disconnect", leave);
          // Its last messages (a `took`, say) are read before the channel
          // says disconnect; leaving at exit could give back what it took.
          child.once("exit", () => {
            if (!child.connected) return leave();
            setTimeout(leave, EXIT_GRACE_MS).unref();
          });
        },
        close() {
          // The workers are gone: every shared socket closes (a Unix
          // socket's file is removed, as its last listener's close does).
          closed = true;
          owner.closeAll();
          server.close();
          if (dir) {
            builtin("node:fs").rmSync(dir, { recursive: true, force: true });
          }
        },
      });
    });
  });
}
