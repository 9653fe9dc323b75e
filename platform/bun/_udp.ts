/**
 * UDP on `Bun.udpSocket`. Bun's `node:dgram` binds a tick later, but
 * `Bun.udpSocket` binds before it returns (a taken address throws there)
 * and returns a settled promise, which `Bun.peek` reads at once: a bind as
 * synchronous as Deno's. Its bind flags are those Bun's own `node:dgram`
 * passes (`SO_REUSEPORT`, `SO_REUSEADDR`); whether they work is tested by
 * binding, not assumed.
 *
 * @module
 */
import {
  interfaceName,
  peerAddress,
  probeUdpKernel,
  resolveFor,
} from "../dgram.ts";
import type {
  Datagram,
  NativeDatagramSocket,
  SocketAddress,
  Udp,
  UdpBindRequest,
} from "../types.ts";
import { codeError } from "../errno.ts";
import { LoopHold } from "../loop_hold.ts";

/** Bun's bind flags, as its `node:dgram` sets them. */
const FAIL_IF_TAKEN = 32;
const REUSE_PORT = 4;
const REUSE_ADDR = 16;

/** A socket of `Bun.udpSocket`, as far as it is used here. */
interface BunUdpSocket {
  readonly hostname: string;
  readonly port: number;
  /** False when the kernel's buffer is full: nothing was sent, `drain` follows. */
  send(data: Uint8Array, port: number, address: string): boolean;
  addMembership(group: string, iface?: string): boolean;
  dropMembership(group: string, iface?: string): boolean;
  setBroadcast(on: boolean): boolean;
  setMulticastLoopback(on: boolean): boolean;
  setMulticastTTL(ttl: number): number;
  ref(): void;
  unref(): void;
  close(): void;
}

interface BunUdpGlobal {
  version: string;
  udpSocket(options: {
    hostname: string;
    port: number;
    flags: number;
    socket: {
      data(
        socket: BunUdpSocket,
        data: Uint8Array,
        port: number,
        address: string,
      ): void;
      drain(socket: BunUdpSocket): void;
    };
  }): Promise<BunUdpSocket>;
  peek<T>(promise: Promise<T>): T | Promise<T>;
}

function bun(): BunUdpGlobal {
  return (globalThis as unknown as { Bun: BunUdpGlobal }).Bun;
}

class BunDatagramSocket implements NativeDatagramSocket {
  readonly addr: SocketAddress;
  #socket: BunUdpSocket;
  /** Sends waiting for `drain`, in order. */
  #blocked: (() => void)[] = [];
  /** Unref'd from the start: a waiting receive holds the process here. */
  #pending = new LoopHold();

  constructor(socket: BunUdpSocket, addr: SocketAddress) {
    this.#socket = socket;
    this.addr = addr;
  }

  drained(): void {
    const blocked = this.#blocked;
    this.#blocked = [];
    for (const retry of blocked) retry();
  }

  send(data: Uint8Array, ip: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        try {
          if (this.#socket.send(data, port, ip)) resolve(data.byteLength);
          else this.#blocked.push(attempt);
        } catch (err) {
          reject(codeError(err));
        }
      };
      attempt();
    });
  }

  joinMulticastV4(group: string, iface: string): void {
    this.#call(() => this.#socket.addMembership(group, iface));
  }

  leaveMulticastV4(group: string, iface: string): void {
    this.#call(() => this.#socket.dropMembership(group, iface));
  }

  joinMulticastV6(group: string, iface: number): void {
    const name = interfaceName(iface);
    this.#call(() => this.#socket.addMembership(group, name && `::%${name}`));
  }

  leaveMulticastV6(group: string, iface: number): void {
    const name = interfaceName(iface);
    this.#call(() => this.#socket.dropMembership(group, name && `::%${name}`));
  }

  setMulticastLoopback(on: boolean): void {
    this.#call(() => this.#socket.setMulticastLoopback(on));
  }

  setMulticastTTL(ttl: number): void {
    this.#call(() => this.#socket.setMulticastTTL(ttl));
  }

  setDemand(waiting: boolean, ref: boolean): void {
    // Datagrams are pushed as they arrive: only holding the process matters.
    this.#pending.set(waiting && ref);
  }

  close(): void {
    this.#pending.set(false);
    this.#socket.close();
    // A send that waited for room will not get it now.
    this.drained();
  }

  #call(fn: () => unknown): void {
    try {
      fn();
    } catch (err) {
      throw codeError(err);
    }
  }
}

function bindBun(
  request: UdpBindRequest,
  onDatagram: (datagram: Datagram) => void,
): NativeDatagramSocket {
  // The socket's drain goes to the adapter made once the bind succeeded.
  const drains: { to?: BunDatagramSocket } = {};
  let promise: Promise<BunUdpSocket>;
  try {
    promise = bun().udpSocket({
      hostname: request.hostname,
      port: request.port,
      flags: FAIL_IF_TAKEN | (request.reusePort ? REUSE_PORT : 0) |
        (request.reuseAddress ? REUSE_ADDR : 0),
      socket: {
        data(_socket, data, port, address) {
          onDatagram({ data, from: peerAddress(address, port) });
        },
        drain() {
          drains.to?.drained();
        },
      },
    });
  } catch (err) {
    throw codeError(err);
  }
  const socket = bun().peek(promise);
  if (socket instanceof Promise) {
    // Not bound by now: this Bun binds later than the ones this was built on.
    promise.then((late) => late.close(), () => {});
    throw new Error("Bun.udpSocket did not bind synchronously");
  }
  if (socket instanceof Error) throw codeError(socket);
  socket.setBroadcast(true);
  socket.setMulticastLoopback(request.loopback);
  socket.unref();
  drains.to = new BunDatagramSocket(socket, {
    hostname: socket.hostname,
    port: socket.port,
  });
  return drains.to;
}

let kernel: { supported: boolean; reason: string } | undefined;

/** UDP on `Bun.udpSocket`. */
export const bunUdp: Udp = {
  base: "Bun.udpSocket",
  bind: bindBun,
  kernelSupport(): { supported: boolean; reason: string } {
    kernel ??= probeUdpKernel(
      `Bun ${bun().version}`,
      bindBun,
      "",
      " cannot bind two UDP sockets with reusePort on one port",
    );
    return kernel;
  },
  resolve: resolveFor,
};
