/**
 * The Node runtime: listening sockets on libuv's TCP handle, connections on
 * `net.Socket`.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { lookup } from "node:dns";
import { isIP, Socket } from "node:net";
import process from "node:process";
import { getSystemErrorMap, getSystemErrorName } from "node:util";
import { BadResource, BrokenPipe, Interrupted } from "../errors.ts";
import { lookupError, osError } from "./_os_errors.ts";
import type {
  BindRequest,
  NativeListener,
  NativeStream,
  Runtime,
  SocketAddress,
} from "./types.ts";

/** The parts of libuv's TCP handle (`tcp_wrap`) that a listener needs. */
interface TcpHandle {
  bind(ip: string, port: number, flags?: number): number;
  bind6(ip: string, port: number, flags: number): number;
  listen(backlog: number): number;
  getsockname(out: Record<string, unknown>): number;
  close(): void;
  ref(): void;
  unref(): void;
  onconnection: ((status: number, client?: object) => void) | null;
}

interface TcpWrap {
  TCP: new (type: number) => TcpHandle;
  constants: { SERVER: number; UV_TCP_REUSEPORT?: number };
}

let tcpWrap: TcpWrap | undefined;

/**
 * `net.Server#listen(port, host)` binds only after an asynchronous DNS step,
 * so its errors and its port arrive a tick later. libuv's TCP handle, which
 * `net.Server` itself is built on, binds and listens synchronously and returns
 * the errno, so `listen()` can throw `AddrInUse` and report the real port
 * before it returns. `process.binding("tcp_wrap")` is on Node's allow-list for
 * exactly this kind of use (it only warns under `--pending-deprecation`), and
 * the handle is handed to nothing but this module.
 */
function loadTcpWrap(): TcpWrap {
  tcpWrap ??= (process as unknown as { binding(name: string): TcpWrap })
    .binding("tcp_wrap");
  return tcpWrap;
}

/** Maps a libuv status code (negative errno) to Deno's class. */
function uvError(status: number): Error {
  const name = getSystemErrorName(status);
  const text = getSystemErrorMap().get(status)?.[1] ?? name;
  return osError(name, -status, text[0].toUpperCase() + text.slice(1));
}

/** Maps an error from `net.Socket` to Deno's class. */
function socketError(err: Error & { code?: string; errno?: number }): Error {
  if (typeof err.errno === "number" && err.errno < 0) return uvError(err.errno);
  switch (err.code) {
    case "ERR_STREAM_WRITE_AFTER_END":
      return new BrokenPipe("Broken pipe (os error 32)");
    case "ERR_STREAM_DESTROYED":
    case "ERR_SOCKET_CLOSED":
      return new Interrupted("operation canceled");
  }
  return err;
}

const READ_HIGH_WATER = 64 * 1024;

class NodeStream implements NativeStream {
  readonly localAddr: SocketAddress;
  readonly remoteAddr: SocketAddress;
  #socket: Socket;
  /** Data read from the socket and not yet handed to a `read()`. */
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #reading = false;
  #eof = false;
  #error: Error | null = null;
  /** Pending reads, served in order, as Deno queues concurrent reads. */
  #reads: {
    buf: Uint8Array;
    resolve(n: number): void;
    reject(e: Error): void;
  }[] = [];
  #writes = 0;
  #readRef = true;
  #refed = true;
  #shut = false;

  constructor(socket: Socket) {
    this.#socket = socket;
    this.localAddr = {
      hostname: socket.localAddress ?? "",
      port: socket.localPort ?? 0,
    };
    this.remoteAddr = {
      hostname: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    };
    // Every socket error lands here, so none reaches `uncaughtException`; the
    // caller sees it on its next read or write.
    socket.on("error", (err) => this.#fail(socketError(err)));
    socket.on("end", () => {
      this.#eof = true;
      this.#settleRead();
    });
    this.#updateRef();
  }

  read(buf: Uint8Array): Promise<number> {
    if (this.#buffered > 0) return Promise.resolve(this.#take(buf));
    if (this.#error) return Promise.reject(this.#error);
    if (this.#eof) return Promise.resolve(0);
    return new Promise((resolve, reject) => {
      this.#reads.push({ buf, resolve, reject });
      this.#updateRef();
      if (!this.#reading) {
        this.#reading = true;
        this.#socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
      }
      // Accepted sockets start paused, so adding the listener is not enough.
      if (this.#socket.isPaused()) this.#socket.resume();
    });
  }

  #onData(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
    if (this.#reads.length > 0) this.#settleRead();
    else if (this.#buffered >= READ_HIGH_WATER) this.#socket.pause();
  }

  /** Copies buffered data into `buf`; resumes the socket once it drained. */
  #take(buf: Uint8Array): number {
    let n = 0;
    while (n < buf.byteLength && this.#chunks.length > 0) {
      const chunk = this.#chunks[0];
      const count = Math.min(chunk.byteLength, buf.byteLength - n);
      buf.set(count === chunk.byteLength ? chunk : chunk.subarray(0, count), n);
      n += count;
      if (count === chunk.byteLength) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(count);
    }
    this.#buffered -= n;
    if (
      this.#buffered < READ_HIGH_WATER && this.#reading && !this.#eof &&
      this.#socket.isPaused()
    ) this.#socket.resume();
    return n;
  }

  #settleRead(): void {
    while (this.#reads.length > 0) {
      const read = this.#reads[0];
      if (this.#buffered > 0) read.resolve(this.#take(read.buf));
      else if (this.#error) read.reject(this.#error);
      else if (this.#eof) read.resolve(0);
      else break;
      this.#reads.shift();
    }
    this.#updateRef();
  }

  #fail(err: Error): void {
    this.#error ??= err;
    this.#settleRead();
  }

  write(buf: Uint8Array): Promise<number> {
    if (this.#shut) {
      return Promise.reject(new BrokenPipe("Broken pipe (os error 32)"));
    }
    if (this.#error) return Promise.reject(this.#error);
    let done: ((err?: Error | null) => void) | undefined;
    this.#socket.write(buf, (err) => done?.(err));
    // Written straight into the kernel (libuv's synchronous try-write): that
    // is what Deno's write promise reports, so report it now, not a tick later.
    // A synchronous failure shows in `errored` only; its callback comes later.
    if (this.#socket.writableLength === 0 && !this.#socket.errored) {
      return Promise.resolve(buf.byteLength);
    }
    this.#writes++;
    this.#updateRef();
    return new Promise((resolve, reject) => {
      done = (err) => {
        this.#writes--;
        this.#updateRef();
        if (err) reject(this.#error ?? socketError(err));
        else resolve(buf.byteLength);
      };
    });
  }

  shutdown(): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    this.#shut = true;
    return new Promise((resolve) => {
      this.#writes++;
      this.#updateRef();
      this.#socket.end(() => {
        this.#writes--;
        this.#updateRef();
        resolve();
      });
    });
  }

  close(): void {
    this.#fail(new Interrupted("operation canceled"));
    this.#chunks = [];
    this.#buffered = 0;
    this.#socket.destroy();
  }

  setNoDelay(on: boolean): void {
    this.#socket.setNoDelay(on);
  }

  setKeepAlive(on: boolean): void {
    this.#socket.setKeepAlive(on);
  }

  setReadRef(ref: boolean): void {
    this.#readRef = ref;
    this.#updateRef();
  }

  /** Deno keeps the process alive for pending ops only, not for open sockets. */
  #updateRef(): void {
    const want = this.#writes > 0 || (this.#reads.length > 0 && this.#readRef);
    if (want === this.#refed) return;
    this.#refed = want;
    if (want) this.#socket.ref();
    else this.#socket.unref();
  }
}

class NodeListener implements NativeListener {
  readonly addr: SocketAddress;
  #handle: TcpHandle;
  /** Connections the OS handed over before anyone asked: raw handles, not read from. */
  #queue: (object | Error)[] = [];
  #waiter: {
    resolve(stream: NativeStream): void;
    reject(err: Error): void;
  } | null = null;
  #closed = false;

  constructor(handle: TcpHandle, addr: SocketAddress) {
    this.#handle = handle;
    this.addr = addr;
    handle.onconnection = (status, client) => {
      const item = status < 0 || !client ? uvError(status) : client;
      const waiter = this.#waiter;
      if (!waiter) return void this.#queue.push(item);
      this.#waiter = null;
      this.#deliver(item, waiter.resolve, waiter.reject);
    };
    handle.unref();
  }

  #deliver(
    item: object | Error,
    resolve: (stream: NativeStream) => void,
    reject: (err: Error) => void,
  ): void {
    if (item instanceof Error) return reject(item);
    const socket = new Socket(
      {
        handle: item,
        allowHalfOpen: true,
        pauseOnCreate: true,
        readable: true,
        writable: true,
      } as ConstructorParameters<typeof Socket>[0],
    );
    resolve(new NodeStream(socket));
  }

  accept(): Promise<NativeStream> {
    if (this.#closed) {
      return Promise.reject(new BadResource("Listener has been closed"));
    }
    return new Promise((resolve, reject) => {
      const item = this.#queue.shift();
      if (item) this.#deliver(item, resolve, reject);
      else this.#waiter = { resolve, reject };
    });
  }

  setRef(ref: boolean): void {
    if (ref) this.#handle.ref();
    else this.#handle.unref();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle.onconnection = null;
    this.#handle.close();
    for (const item of this.#queue.splice(0)) {
      if (!(item instanceof Error)) (item as TcpHandle).close();
    }
    this.#waiter?.reject(new BadResource("Listener has been closed"));
    this.#waiter = null;
  }
}

function lookupAsync(hostname: string): Promise<string> {
  return new Promise((resolve, reject) => {
    lookup(hostname, (err, address) => {
      if (err) reject(lookupError(err.code));
      else resolve(address);
    });
  });
}

/** Node, through libuv. */
export const nodeRuntime: Runtime = {
  name: "node",

  get kernelReusePort(): boolean {
    return typeof loadTcpWrap().constants.UV_TCP_REUSEPORT === "number" &&
      (process.platform === "linux" || process.platform === "android" ||
        process.platform === "freebsd");
  },

  listen({ hostname, port, backlog, reusePort }: BindRequest): NativeListener {
    const { TCP, constants } = loadTcpWrap();
    const handle = new TCP(constants.SERVER);
    const flags = reusePort ? constants.UV_TCP_REUSEPORT ?? 0 : 0;
    let status = isIP(hostname) === 6
      ? handle.bind6(hostname, port, flags)
      : handle.bind(hostname, port, flags);
    if (status === 0) status = handle.listen(backlog);
    const out: Record<string, unknown> = {};
    if (status === 0) status = handle.getsockname(out);
    if (status !== 0) {
      handle.close();
      throw uvError(status);
    }
    return new NodeListener(handle, {
      hostname: String(out.address),
      port: Number(out.port),
    });
  },

  resolveListenHost(hostname: string): string {
    // Deno resolves a listen address before `listen()` returns. Node has no
    // synchronous resolver, so ask getaddrinfo in a short child process.
    const script =
      "require('dns').lookup(process.argv[1],(e,a)=>process.stdout.write(JSON.stringify(e?{code:e.code}:{address:a})))";
    const child = spawnSync(process.execPath, ["-e", script, hostname], {
      encoding: "utf8",
      timeout: 10_000,
    });
    let answer: { code?: string; address?: string } = {};
    try {
      answer = JSON.parse(child.stdout);
    } catch {
      answer = { code: "EAI_AGAIN" };
    }
    if (answer.address) return answer.address;
    throw lookupError(answer.code);
  },

  async connect(
    hostname: string,
    port: number,
    signal?: AbortSignal,
  ): Promise<NativeStream> {
    const ip = isIP(hostname) ? hostname : await lookupAsync(hostname);
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const socket = new Socket({ allowHalfOpen: true });
      const onAbort = () => {
        socket.destroy();
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      socket.once("error", (err) => {
        signal?.removeEventListener("abort", onAbort);
        reject(socketError(err));
      });
      socket.connect({ host: ip, port }, () => {
        signal?.removeEventListener("abort", onAbort);
        socket.removeAllListeners("error");
        resolve(new NodeStream(socket));
      });
    });
  },
};
