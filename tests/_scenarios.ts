/**
 * Scenarios run twice: on native Deno (`Deno.listen` / `Deno.connect`, the
 * oracle) and on this package. Each returns a JSON value that describes what
 * happened, free of anything that varies between runs (ports), so the two
 * results can be compared with `deepEqual`.
 */
import type { connect, listen, TcpConn } from "../mod.ts";

/** The API under test: this package's exports, or Deno's namespace. */
export interface NetApi {
  listen: typeof listen;
  connect: typeof connect;
  /**
   * The classes a user of this API tests errors against: Deno's own
   * `Deno.errors` on Deno (for the oracle and for ours), this package's
   * `errors` (what the polyfill installs) on Node.
   */
  errors: Record<string, unknown>;
}

type Scenario = (net: NetApi) => Promise<unknown>;

/** What an error says about itself: class, `name`, message. */
export function describeError(err: unknown): unknown {
  if (!(err instanceof Error)) return { thrown: String(err) };
  return {
    class: err.constructor.name,
    name: err.name,
    message: err.message,
  };
}

/** Runs `fn`; returns its value, or the description of what it threw or rejected with. */
async function outcome(fn: () => unknown): Promise<unknown> {
  try {
    return { value: await fn() };
  } catch (err) {
    return { error: describeError(err) };
  }
}

/** Binds `hostname:port` and describes the listener (port replaced by whether it is set). */
function listenOutcome(
  net: NetApi,
  options: Record<string, unknown>,
): Promise<unknown> {
  return outcome(() => {
    const listener = net.listen(options as Parameters<typeof listen>[0]);
    const { transport, hostname, port } = listener.addr;
    listener.close();
    return { transport, hostname, portIsSet: port > 0 };
  });
}

async function connectOutcome(
  net: NetApi,
  options: Record<string, unknown>,
): Promise<unknown> {
  return await outcome(async () => {
    const conn = await net.connect(
      options as unknown as Parameters<typeof connect>[0],
    );
    conn.close();
    return "connected";
  });
}

/** A listener on 127.0.0.1, on a port the OS picks. */
function loopback(net: NetApi) {
  return net.listen({ hostname: "127.0.0.1", port: 0 });
}

/** A listener on 127.0.0.1 and a connected pair: `[listener, client, server]`. */
async function pair(net: NetApi) {
  const listener = loopback(net);
  const accepted = listener.accept();
  const client = await net.connect({ port: listener.addr.port });
  const server = await accepted;
  return { listener, client, server };
}

type Pair = Awaited<ReturnType<typeof pair>>;

/**
 * A pair whose client resets the connection while the server waits in
 * `first` (a read of some kind): the server writes more than the client reads
 * ahead and its kernel buffers hold, so the client's close resets rather than
 * ends. Resolves `first`'s outcome; `done()` settles the write and closes.
 */
async function peerReset(
  net: NetApi,
  first: (server: Pair["server"]) => unknown,
): Promise<{ server: Pair["server"]; first: unknown; done(): Promise<void> }> {
  const { listener, client, server } = await pair(net);
  const flood = server.write(new Uint8Array(8 * 1024 * 1024)).catch(() => {});
  const pending = outcome(() => first(server));
  await delay(100);
  client.close();
  return {
    server,
    first: await pending,
    async done() {
      await flood;
      closeAll(server, listener);
    },
  };
}

function closeAll(...closers: { close(): void }[]): void {
  for (const c of closers) {
    try {
      c.close();
    } catch {
      // Already closed by the scenario itself.
    }
  }
}

async function readAll(conn: TcpConn, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  let n = 0;
  while (n < size) {
    const got = await conn.read(out.subarray(n));
    if (got === null) break;
    n += got;
  }
  return out.subarray(0, n);
}

/** Writes all of `data` (a single `write` may take less, in Deno as in the OS). */
async function writeAll(conn: TcpConn, data: Uint8Array): Promise<number> {
  let n = 0;
  while (n < data.length) n += await conn.write(data.subarray(n));
  return n;
}

function pattern(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 8)) & 0xff;
  return data;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

const listenPorts: Record<string, unknown> = {
  "70000": 70000,
  "1.5": 1.5,
  "'abc'": "abc",
  "''": "",
  "{}": {},
  "NaN": NaN,
  "Infinity": Infinity,
  "-1": -1,
  "true": true,
  "[5]": [5],
  "'0'": "0",
  "' 0'": " 0",
  "null": null,
  "undefined": undefined,
  "2**53": 2 ** 53,
};

const connectPorts: Record<string, unknown> = {
  "0": 0,
  "70000": 70000,
  "1.5": 1.5,
  "'abc'": "abc",
  "''": "",
  "{}": {},
  "NaN": NaN,
  "null": null,
  "undefined": undefined,
};

const listenHosts: Record<string, unknown> = {
  "default": undefined,
  "0.0.0.0": "0.0.0.0",
  "localhost": "localhost",
  "LOCALHOST": "LOCALHOST",
  "[::1]": "[::1]",
  "::1": "::1",
  "::": "::",
  "'a b'": "a b",
  "''": "",
  "'.'": ".",
  "a..b": "a..b",
  ".a": ".a",
  "[127.0.0.1]": "[127.0.0.1]",
  "[]": "[]",
  "a/b": "a/b",
  "1.2.3.4 (not local)": "1.2.3.4",
  "127.1 (inet_aton form)": "127.1",
  "example.invalid": "example.invalid",
  "{} (not a string)": {},
};

/** Every scenario, by name. */
export const scenarios: Record<string, Scenario> = {};

for (const [label, port] of Object.entries(listenPorts)) {
  scenarios[`listen port ${label}`] = (net) =>
    listenOutcome(net, { hostname: "127.0.0.1", port });
}
for (const [label, port] of Object.entries(connectPorts)) {
  scenarios[`connect port ${label}`] = (net) => connectOutcome(net, { port });
}
for (const [label, hostname] of Object.entries(listenHosts)) {
  scenarios[`listen hostname ${label}`] = (net) =>
    listenOutcome(net, { hostname, port: 0 });
}

const behaviours: Record<string, Scenario> = {
  "connect hostname 'a b'": (net) =>
    connectOutcome(net, { hostname: "a b", port: 1 }),
  "connect hostname example.invalid": (net) =>
    connectOutcome(net, { hostname: "example.invalid", port: 1 }),
  "connect to a closed port": async (net) => {
    const listener = loopback(net);
    const port = listener.addr.port;
    listener.close();
    return await connectOutcome(net, { hostname: "localhost", port });
  },
  "connect with an aborted signal": (net) => {
    const controller = new AbortController();
    controller.abort(new Error("stop right there"));
    return connectOutcome(net, { port: 1, signal: controller.signal });
  },

  "listener shape": (net) => {
    const listener = net.listen({ port: 0 });
    const shape = {
      keys: Object.keys(listener),
      addrKeys: Object.keys(listener.addr).sort(),
      hasRid: "rid" in listener && Object.keys(listener).includes("rid"),
      iterable: typeof listener[Symbol.asyncIterator],
      disposable: typeof listener[Symbol.dispose],
    };
    listener.close();
    return Promise.resolve(shape);
  },
  "address in use": async (net) => {
    const first = loopback(net);
    const result = await outcome(() =>
      net.listen({ hostname: "127.0.0.1", port: first.addr.port })
    );
    first.close();
    return result;
  },
  "wildcard and loopback on one port": async (net) => {
    const first = net.listen({ port: 0 });
    const result = await outcome(() =>
      net.listen({ hostname: "127.0.0.1", port: first.addr.port })
    );
    first.close();
    return result;
  },
  "close with an accept pending, then listen again": async (net) => {
    const listener = loopback(net);
    const pending = outcome(() => listener.accept());
    listener.close();
    const rejected = await pending;
    const again = await outcome(() => {
      const l = net.listen({ hostname: "127.0.0.1", port: listener.addr.port });
      l.close();
      return "listening again";
    });
    return { rejected, again };
  },
  "accept after close": async (net) => {
    const listener = loopback(net);
    listener.close();
    return await outcome(() => listener.accept());
  },
  "second concurrent accept": async (net) => {
    const listener = loopback(net);
    const first = outcome(() => listener.accept());
    const second = await outcome(() => listener.accept());
    listener.close();
    return { second, first: await first };
  },
  "close twice": async (net) => {
    const listener = loopback(net);
    listener.close();
    return await outcome(() => listener.close());
  },
  "dispose twice": async (net) => {
    const listener = loopback(net);
    listener[Symbol.dispose]();
    const second = await outcome(() => listener[Symbol.dispose]());
    const accept = await outcome(() => listener.accept());
    return { second, accept };
  },
  "iterator ends when the listener closes": async (net) => {
    const listener = loopback(net);
    const next = listener[Symbol.asyncIterator]().next();
    listener.close();
    return await next;
  },
  "break out of for await closes the listener": async (net) => {
    const listener = loopback(net);
    const client = net.connect({ port: listener.addr.port });
    let served = 0;
    for await (const conn of listener) {
      served++;
      conn.close();
      break;
    }
    (await client).close();
    const accept = await outcome(() => listener.accept());
    const close = await outcome(() => listener.close());
    return { served, accept, close };
  },

  "conn addresses on both ends": async (net) => {
    const { listener, client, server } = await pair(net);
    const port = listener.addr.port;
    const result = {
      clientRemoteIsListener: client.remoteAddr.port === port,
      serverLocalIsListener: server.localAddr.port === port,
      ephemeralMatches: client.localAddr.port === server.remoteAddr.port,
      client: [client.localAddr.hostname, client.remoteAddr.hostname],
      server: [server.localAddr.hostname, server.remoteAddr.hostname],
      transports: [client.localAddr.transport, server.remoteAddr.transport],
    };
    closeAll(client, server, listener);
    return result;
  },
  "read and write byte counts": async (net) => {
    const { listener, client, server } = await pair(net);
    const wrote = await client.write(new TextEncoder().encode("hello"));
    const buf = new Uint8Array(3);
    const first = await server.read(buf);
    const text1 = new TextDecoder().decode(buf.subarray(0, first ?? 0));
    const second = await server.read(buf);
    const empty = await server.read(new Uint8Array(0));
    const wroteEmpty = await client.write(new Uint8Array(0));
    closeAll(client, server, listener);
    return { wrote, first, text1, second, empty, wroteEmpty };
  },
  "4 MiB arrives whole and in order": async (net) => {
    const { listener, client, server } = await pair(net);
    const data = pattern(4 * 1024 * 1024);
    const [wrote, got] = await Promise.all([
      writeAll(client, data),
      readAll(server, data.length),
    ]);
    closeAll(client, server, listener);
    return { wrote, length: got.length, intact: sameBytes(got, data) };
  },
  "closeWrite: peer reads EOF, other way keeps working, later write": async (
    net,
  ) => {
    const { listener, client, server } = await pair(net);
    await client.closeWrite();
    const eof = await server.read(new Uint8Array(8));
    const eofAgain = await server.read(new Uint8Array(8));
    await server.write(new Uint8Array([1, 2, 3]));
    const back = await client.read(new Uint8Array(8));
    const writeAfter = await outcome(() => client.write(new Uint8Array(1)));
    closeAll(client, server, listener);
    return { eof, eofAgain, back, writeAfter };
  },
  "read, write, close after close": async (net) => {
    const { listener, client, server } = await pair(net);
    client.close();
    const result = {
      read: await outcome(() => client.read(new Uint8Array(4))),
      readEmpty: await outcome(() => client.read(new Uint8Array(0))),
      write: await outcome(() => client.write(new Uint8Array(4))),
      closeWrite: await outcome(() => client.closeWrite()),
      close: await outcome(() => client.close()),
      setNoDelay: await outcome(() => client.setNoDelay()),
    };
    closeAll(server, listener);
    return result;
  },
  "close with a read pending": async (net) => {
    const { listener, client, server } = await pair(net);
    const pending = outcome(() => client.read(new Uint8Array(8)));
    client.close();
    const read = await pending;
    const peer = await server.read(new Uint8Array(8));
    closeAll(server, listener);
    return { read, peer };
  },
  "two concurrent reads are served in order": async (net) => {
    const { listener, client, server } = await pair(net);
    const a = server.read(new Uint8Array(2));
    const b = server.read(new Uint8Array(2));
    await client.write(new Uint8Array([1, 2]));
    const first = await a;
    await client.write(new Uint8Array([3, 4]));
    const second = await b;
    closeAll(client, server, listener);
    return { first, second };
  },
  "readable.pipeTo(writable) echoes 300 kB": async (net) => {
    const { listener, client, server } = await pair(net);
    const echo = server.readable.pipeTo(server.writable);
    const data = pattern(300_000);
    const [, got] = await Promise.all([
      writeAll(client, data).then(() => client.closeWrite()),
      readAll(client, data.length),
    ]);
    await echo;
    const eof = await client.read(new Uint8Array(1));
    closeAll(client, listener);
    return { length: got.length, intact: sameBytes(got, data), eof };
  },
  "readable's default reader gets 1 MB whole, in plain ArrayBuffer-backed chunks":
    async (net) => {
      const { listener, client, server } = await pair(net);
      const data = pattern(1_000_000);
      const sent = writeAll(client, data).then(() => client.closeWrite());
      const got = new Uint8Array(data.length);
      let length = 0;
      let plain = true;
      for await (const chunk of server.readable) {
        plain &&= Object.getPrototypeOf(chunk) === Uint8Array.prototype &&
          chunk.buffer instanceof ArrayBuffer && chunk.byteLength > 0;
        got.set(chunk, length);
        length += chunk.byteLength;
      }
      await sent;
      closeAll(client, listener);
      return { length, intact: sameBytes(got, data), plain };
    },
  "readable's BYOB reader reads 1 MB into small views of its own": async (
    net,
  ) => {
    const { listener, client, server } = await pair(net);
    const data = pattern(1_000_000);
    const sent = writeAll(client, data).then(() => client.closeWrite());
    const reader = server.readable.getReader({ mode: "byob" });
    const got = new Uint8Array(data.length);
    let length = 0;
    let most = 0;
    for (;;) {
      const { value, done } = await reader.read(new Uint8Array(1000));
      if (done) break;
      most = Math.max(most, value.byteLength);
      got.set(value, length);
      length += value.byteLength;
    }
    await sent;
    closeAll(client, listener);
    return { length, intact: sameBytes(got, data), most };
  },
  "setNoDelay and setKeepAlive return": async (net) => {
    const { listener, client, server } = await pair(net);
    const result = [
      client.setNoDelay(),
      client.setNoDelay(false),
      server.setKeepAlive(),
      server.setKeepAlive(false),
    ];
    closeAll(client, server, listener);
    return result;
  },
  "300 clients connect before anyone accepts": async (net) => {
    const listener = loopback(net);
    const clients = await Promise.all(
      Array.from(
        { length: 300 },
        () => net.connect({ port: listener.addr.port }),
      ),
    );
    const seen = new Set<number>();
    for (let i = 0; i < clients.length; i++) {
      const conn = await listener.accept();
      seen.add(conn.remoteAddr.port);
      conn.close();
    }
    const ports = new Set(clients.map((c) => c.localAddr.port));
    const all = [...ports].every((p) => seen.has(p));
    closeAll(...clients, listener);
    return { accepted: seen.size, all };
  },
  "closeWrite resolves": async (net) => {
    const { listener, client, server } = await pair(net);
    const value = await client.closeWrite();
    closeAll(client, server, listener);
    return { value: value === undefined ? "undefined" : value };
  },
  "peer reset: pending read, read, write, closeWrite": async (net) => {
    const reset = await peerReset(net, (s) => s.read(new Uint8Array(8)));
    const { server } = reset;
    const result = {
      pendingRead: reset.first,
      read: await outcome(() => server.read(new Uint8Array(8))),
      write: await outcome(() => server.write(new Uint8Array(8))),
      closeWrite: await outcome(() => server.closeWrite()),
    };
    await reset.done();
    return result;
  },
  "writable after closeWrite: write and closed reject": async (net) => {
    const { listener, client, server } = await pair(net);
    await client.closeWrite();
    const writer = client.writable.getWriter();
    const write = await outcome(() => writer.write(new Uint8Array(3)));
    const closed = await outcome(() => writer.closed);
    closeAll(server, listener);
    return { write, closed };
  },
  "peer reset: a read, then writable": async (net) => {
    const reset = await peerReset(net, (s) => s.read(new Uint8Array(8)));
    const writer = reset.server.writable.getWriter();
    const writable = await outcome(() => writer.write(new Uint8Array(8)));
    await reset.done();
    return { read: reset.first, writable };
  },
  "peer reset: readable ends": async (net) => {
    const reset = await peerReset(net, (s) => s.readable.getReader().read());
    await reset.done();
    return reset.first;
  },
  "errors are instances of the runtime's Deno.errors": async (net) => {
    const caught: [string, unknown][] = [];
    const check = async (label: string, fn: () => unknown) => {
      try {
        await fn();
        caught.push([label, "no error"]);
      } catch (err) {
        const name = (err as Error).name;
        const Class = net.errors[name];
        caught.push([label, {
          name,
          instanceOf: typeof Class === "function" && err instanceof Class,
        }]);
      }
    };
    const first = loopback(net);
    const { port } = first.addr;
    await check(
      "listen on a taken address",
      () => net.listen({ hostname: "127.0.0.1", port }),
    );
    const accepting = first.accept();
    await check("a second accept", () => first.accept());
    first.close();
    await check("accept pending at close", () => accepting);
    await check("accept after close", () => first.accept());
    await check("close twice", () => first.close());
    await check("connect to a closed port", () => net.connect({ port }));
    await check(
      "listen on a foreign address",
      () => net.listen({ hostname: "1.2.3.4", port: 0 }),
    );
    const { listener, client, server } = await pair(net);
    await client.closeWrite();
    await check(
      "write after closeWrite",
      () => client.write(new Uint8Array(1)),
    );
    const reading = client.read(new Uint8Array(1));
    client.close();
    await check("read pending at close", () => reading);
    await check("read after close", () => client.read(new Uint8Array(1)));
    closeAll(server, listener);
    return caught;
  },
  "the classes of Deno.errors": (net) =>
    Promise.resolve(Object.keys(net.errors).sort()),
  "write to a peer that closed": async (net) => {
    const { listener, client, server } = await pair(net);
    client.close();
    const eof = await server.read(new Uint8Array(8));
    const results = [];
    for (let i = 0; i < 3; i++) {
      results.push(await outcome(() => server.write(new Uint8Array(1000))));
      await delay(30);
    }
    closeAll(server, listener);
    return { eof, results };
  },
};
Object.assign(scenarios, behaviours);
