/**
 * UDP on Deno's own `Deno.listenDatagram`, where this process has it (run
 * with `--unstable-net`): several times the receive rate of Deno's
 * `node:dgram`, and Deno's own behaviour (an idle socket does not hold the
 * process; the port is free when `close()` returns). It reads on demand:
 * only while a receive waits, so datagrams nobody asks for wait in the
 * kernel, as with Deno's own.
 *
 * @module
 */
import { osError } from "../errno.ts";
import type {
  Datagram,
  NativeDatagramSocket,
  SocketAddress,
  Udp,
  UdpBindRequest,
} from "../types.ts";
import { resolveFor } from "../dgram.ts";

/** A membership of Deno's, as far as it is used here. */
interface DenoMembership {
  leave(): Promise<void>;
  setLoopback(loopback: boolean): Promise<void>;
  setTTL?(ttl: number): Promise<void>;
}

/** Deno's `DatagramConn`, as far as it is used here. */
export interface DenoDatagramConn {
  readonly addr: SocketAddress;
  receive(p?: Uint8Array): Promise<[Uint8Array, SocketAddress]>;
  send(data: Uint8Array, addr: SocketAddress): Promise<number>;
  joinMulticastV4(group: string, iface: string): Promise<DenoMembership>;
  joinMulticastV6(group: string, iface: number): Promise<DenoMembership>;
  close(): void;
  ref(): void;
  unref(): void;
}

/** Deno's `listenDatagram`, as far as it is used here. */
export type DenoListenDatagram = (options: {
  transport: "udp";
  hostname: string;
  port: number;
  reuseAddress: boolean;
  loopback: boolean;
}) => DenoDatagramConn;

/** Deno's error for leaving a group this socket is not in (`setsockopt`'s). */
function notMember(): Error {
  return osError(
    "EADDRNOTAVAIL",
    99,
    "Cannot assign requested address",
  );
}

class DenoDatagramSocket implements NativeDatagramSocket {
  readonly addr: SocketAddress;
  #conn: DenoDatagramConn;
  #onDatagram: (datagram: Datagram) => void;
  #translate: (err: unknown) => Error;
  #waiting = false;
  #reading = false;
  #closed = false;
  /** Memberships by group and interface, to leave them; the last one sets options. */
  #memberships = new Map<string, DenoMembership>();
  #last: DenoMembership | undefined;
  /**
   * What Deno reads into: one buffer for every receive, the datagram copied
   * out (Deno's own allocates 64 KiB a receive when given none).
   */
  #scratch = new Uint8Array(65536);

  constructor(
    conn: DenoDatagramConn,
    onDatagram: (datagram: Datagram) => void,
    translate: (err: unknown) => Error,
  ) {
    this.#conn = conn;
    this.#onDatagram = onDatagram;
    this.#translate = translate;
    this.addr = { hostname: conn.addr.hostname, port: conn.addr.port };
    // Nothing waits yet: an idle socket holds nothing, as Deno's.
    conn.unref();
  }

  setDemand(waiting: boolean, ref: boolean): void {
    this.#waiting = waiting;
    if (ref) this.#conn.ref();
    else this.#conn.unref();
    if (waiting && !this.#reading) void this.#read();
  }

  /** Reads while a receive waits; one read pending at a time. */
  async #read(): Promise<void> {
    this.#reading = true;
    try {
      while (this.#waiting && !this.#closed) {
        const [data, from] = await this.#conn.receive(this.#scratch);
        this.#onDatagram({
          data: data.slice(),
          from: { hostname: from.hostname, port: from.port },
        });
      }
    } catch {
      // Closed (Interrupted, BadResource): the ops reject the receives.
    } finally {
      this.#reading = false;
    }
  }

  send(data: Uint8Array, ip: string, port: number): Promise<number> {
    return this.#conn.send(data, { hostname: ip, port }).catch((err) => {
      throw this.#translate(err);
    });
  }

  async joinMulticastV4(group: string, iface: string): Promise<void> {
    this.#joined(
      `${group}|${iface}`,
      await this.#conn.joinMulticastV4(group, iface).catch((err) => {
        throw this.#translate(err);
      }),
    );
  }

  leaveMulticastV4(group: string, iface: string): Promise<void> {
    return this.#leave(`${group}|${iface}`);
  }

  async joinMulticastV6(group: string, iface: number): Promise<void> {
    this.#joined(
      `${group}|${iface}`,
      await this.#conn.joinMulticastV6(group, iface).catch((err) => {
        throw this.#translate(err);
      }),
    );
  }

  leaveMulticastV6(group: string, iface: number): Promise<void> {
    return this.#leave(`${group}|${iface}`);
  }

  setMulticastLoopback(on: boolean): Promise<void> {
    // Deno sets socket options only through a membership.
    if (!this.#last) return Promise.reject(notMember());
    return this.#last.setLoopback(on).catch((err) => {
      throw this.#translate(err);
    });
  }

  setMulticastTTL(ttl: number): Promise<void> {
    const setTTL = this.#last?.setTTL;
    if (!setTTL) return Promise.reject(notMember());
    return setTTL(ttl).catch((err) => {
      throw this.#translate(err);
    });
  }

  close(): void {
    this.#closed = true;
    this.#conn.close();
  }

  #joined(key: string, membership: DenoMembership): void {
    this.#memberships.set(key, membership);
    this.#last = membership;
  }

  async #leave(key: string): Promise<void> {
    const membership = this.#memberships.get(key);
    if (!membership) throw notMember();
    this.#memberships.delete(key);
    await membership.leave().catch((err) => {
      throw this.#translate(err);
    });
  }
}

/**
 * Deno's own UDP socket for `request` (its options as Deno names them);
 * `translate` makes a bind's error ours. Also what `_own.ts` hands out.
 */
export function bindDenoUdp(
  listenDatagram: DenoListenDatagram,
  request: UdpBindRequest,
  translate: (err: unknown) => Error,
): DenoDatagramConn {
  try {
    return listenDatagram({
      transport: "udp",
      hostname: request.hostname,
      port: request.port,
      reuseAddress: request.reuseAddress,
      loopback: request.loopback,
    });
  } catch (err) {
    throw translate(err);
  }
}

/** UDP on Deno's own `listenDatagram`; `translate` makes Deno's errors ours. */
export function denoUdp(
  listenDatagram: DenoListenDatagram,
  translate: (err: unknown) => Error,
): Udp {
  return {
    base: "Deno.listenDatagram",
    bind(
      request: UdpBindRequest,
      onDatagram: (datagram: Datagram) => void,
    ): NativeDatagramSocket {
      const conn = bindDenoUdp(listenDatagram, request, translate);
      return new DenoDatagramSocket(conn, onDatagram, translate);
    },
    kernelSupport(): { supported: boolean; reason: string } {
      return {
        supported: false,
        reason:
          "Deno.listenDatagram has no reusePort (denoland/deno#36858): Deno's UDP sockets cannot share a port through the kernel",
      };
    },
    resolve: resolveFor,
  };
}
