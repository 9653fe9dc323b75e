/**
 * UDP on `node:dgram`, for Node and for Deno (whose Node layer has it with
 * no `--unstable-net`, where `Deno.listenDatagram` needs the flag). A
 * `dgram.Socket` binds after a DNS step, a tick later; given a lookup that
 * answers at once (the address is always an IP literal here), it binds
 * before `bind()` returns, so a taken address throws here and port 0 comes
 * back as the real port.
 *
 * @module
 */
import { builtin } from "./builtin.ts";
import type * as dgram from "node:dgram";
import { lookupError, osError, uvError } from "./errno.ts";
import { LoopHold } from "./loop_hold.ts";
import type {
  Datagram,
  NativeDatagramSocket,
  SocketAddress,
  Udp,
  UdpBindRequest,
} from "./types.ts";

/** Where `SO_REUSEPORT` spreads datagrams across UDP sockets (by flow). */
const BALANCING_OS: readonly string[] = ["linux", "android"];

/** An error of `node:dgram` (an errno, negative, and its name) as Deno's. */
export function dgramError(err: unknown): Error {
  const { errno, code, message } = err as {
    errno?: unknown;
    code?: unknown;
    message?: string;
  };
  if (typeof errno === "number" && errno < 0) return uvError(errno);
  if (typeof code === "string" && typeof errno === "number") {
    return osError(code, errno, message ?? code);
  }
  return err as Error;
}

/** An IPv4 peer of a dual-stack socket as Deno reports it: `1.2.3.4`, not `::ffff:1.2.3.4`. */
export function peerAddress(address: string, port: number): SocketAddress {
  return {
    hostname: address.startsWith("::ffff:") && address.includes(".")
      ? address.slice(7)
      : address,
    port,
  };
}

/** The name of the network interface with index `index`, where the OS lists them (Linux). */
export function interfaceName(index: number): string | undefined {
  if (index === 0) return undefined;
  try {
    for (const name of builtin("node:fs").readdirSync("/sys/class/net")) {
      const own = builtin("node:fs").readFileSync(
        `/sys/class/net/${name}/ifindex`,
        "utf8",
      );
      if (Number(own) === index) return name;
    }
  } catch {
    // No such listing here: the OS picks the interface.
  }
  return undefined;
}

/** Resolves `hostname` to an address of `family`, as Deno's send does. */
export function resolveFor(hostname: string, family: 4 | 6): Promise<string> {
  return new Promise((resolve, reject) => {
    builtin("node:dns").lookup(hostname, { family }, (err, address) => {
      if (err) reject(lookupError(err.code));
      else resolve(address);
    });
  });
}

/** The lookup `dgram` is given: the address is a literal already. */
function literalLookup(
  address: string,
  options: unknown,
  callback?: (err: null, address: string, family: number) => void,
): void {
  const cb = typeof options === "function" ? options : callback!;
  cb(null, address, address.includes(":") ? 6 : 4);
}

class DgramSocket implements NativeDatagramSocket {
  readonly addr: SocketAddress;
  #socket: dgram.Socket;
  /** Unref'd from the start: a waiting receive holds the process here. */
  #pending = new LoopHold();

  constructor(socket: dgram.Socket) {
    this.#socket = socket;
    const { address, port } = socket.address();
    this.addr = { hostname: address, port };
  }

  send(data: Uint8Array, ip: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      try {
        this.#socket.send(data, port, ip, (err, bytes) => {
          if (err) reject(dgramError(err));
          else resolve(bytes);
        });
      } catch (err) {
        reject(dgramError(err));
      }
    });
  }

  joinMulticastV4(group: string, iface: string): void {
    this.#membership(true, group, iface);
  }

  leaveMulticastV4(group: string, iface: string): void {
    this.#membership(false, group, iface);
  }

  joinMulticastV6(group: string, iface: number): void {
    this.#membership(true, group, this.#v6Interface(iface));
  }

  leaveMulticastV6(group: string, iface: number): void {
    this.#membership(false, group, this.#v6Interface(iface));
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
  }

  /** libuv takes an IPv6 interface as `::%<name>` (its zone). */
  #v6Interface(index: number): string | undefined {
    const name = interfaceName(index);
    return name === undefined ? undefined : `::%${name}`;
  }

  #membership(join: boolean, group: string, iface: string | undefined): void {
    this.#call(() =>
      join
        ? this.#socket.addMembership(group, iface)
        : this.#socket.dropMembership(group, iface)
    );
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      throw dgramError(err);
    }
  }
}

/** Binds a `dgram.Socket` before returning; throws Deno's error for a failed bind. */
function bindDgram(
  request: UdpBindRequest,
  onDatagram: (datagram: Datagram) => void,
): NativeDatagramSocket {
  const v6 = request.hostname.includes(":");
  const socket = builtin("node:dgram").createSocket({
    type: v6 ? "udp6" : "udp4",
    reuseAddr: request.reuseAddress,
    ...(request.reusePort ? { reusePort: true } : {}),
    lookup: literalLookup as never,
  });
  let failure: unknown;
  const onBindError = (err: unknown) => failure = err;
  socket.once("error", onBindError);
  socket.bind(request.port, request.hostname);
  socket.off("error", onBindError);
  let bound: NativeDatagramSocket | undefined;
  if (failure === undefined) {
    try {
      bound = new DgramSocket(socket);
    } catch (err) {
      // Not bound by now: a runtime whose bind stayed asynchronous.
      failure = err;
    }
  }
  if (!bound) {
    socket.close();
    throw dgramError(failure);
  }
  // Deno's defaults: broadcast allowed; multicast loopback as asked.
  socket.setBroadcast(true);
  socket.setMulticastLoopback(request.loopback);
  socket.unref();
  // Only a dual-stack (IPv6) socket hears IPv4 peers at mapped addresses:
  // an IPv4 one hands the sender on as it came, per datagram.
  socket.on(
    "message",
    v6
      ? (data: Uint8Array, rinfo: dgram.RemoteInfo) => {
        onDatagram({ data, from: peerAddress(rinfo.address, rinfo.port) });
      }
      : (data: Uint8Array, rinfo: dgram.RemoteInfo) => {
        onDatagram({
          data,
          from: { hostname: rinfo.address, port: rinfo.port },
        });
      },
  );
  // Errors after the bind come with the send that caused them.
  socket.on("error", () => {});
  return bound;
}

let kernel: { supported: boolean; reason: string } | undefined;

/** Whether a second `reusePort` socket of `bind` can bind the port of a first: a feature test. */
function bindsWithReusePort(bind: Udp["bind"]): boolean {
  const request = {
    hostname: "127.0.0.1",
    port: 0,
    reuseAddress: false,
    reusePort: true,
    loopback: false,
  };
  let first: NativeDatagramSocket | undefined;
  try {
    first = bind(request, () => {});
    bind({ ...request, port: first.addr.port }, () => {}).close();
    return true;
  } catch {
    return false;
  } finally {
    first?.close();
  }
}

/**
 * Whether the sockets of `bind` get the kernel strategy on this OS, and why:
 * the kernel must spread datagrams by flow, and two `reusePort` sockets must
 * bind one port. `runtime` names the runtime, `how` the API it binds with,
 * `cannot` what a failed bind says after it.
 */
export function probeUdpKernel(
  runtime: string,
  bind: Udp["bind"],
  how: string,
  cannot: string,
): { supported: boolean; reason: string } {
  const where = `${runtime} on ${builtin("node:process").platform}`;
  if (!BALANCING_OS.includes(builtin("node:process").platform)) {
    return {
      supported: false,
      reason: `${where}: SO_REUSEPORT does not balance datagrams there`,
    };
  }
  if (!bindsWithReusePort(bind)) {
    return { supported: false, reason: `${where}${cannot}` };
  }
  return {
    supported: true,
    reason:
      `${where} binds UDP sockets with SO_REUSEPORT${how} and the kernel spreads datagrams by flow`,
  };
}

/** UDP on `node:dgram`; `runtime` names the runtime in reasons. */
export function dgramUdp(runtime: () => string): Udp {
  return {
    base: "node:dgram",
    bind: bindDgram,
    kernelSupport(): { supported: boolean; reason: string } {
      kernel ??= probeUdpKernel(
        runtime(),
        bindDgram,
        " (node:dgram)",
        ": node:dgram cannot bind two UDP sockets with reusePort on one port (Node 22.12 can)",
      );
      return kernel;
    },
    resolve: resolveFor,
  };
}
