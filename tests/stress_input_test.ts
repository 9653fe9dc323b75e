/**
 * Bad input, property-based (fast-check): listen and connect options, rids
 * for the ops, buffers, and the order of calls on a connection. Whatever
 * comes in, what comes out is a result or one of the documented error
 * classes (`errors.*`, `TypeError`, `RangeError`, `URIError`, as native Deno
 * gives them) — never a crash, a hang, an `uncaughtException` or
 * `unhandledRejection`, or a resource left open.
 *
 * Every generated address is on this machine and nothing resolves a name:
 * host names are loopback literals, addresses that cannot be bound, or
 * strings that fail validation before any lookup. Ports that would bind or
 * connect are only those the test owns.
 *
 * Runs follow `STRESS_SCALE` (see `_stress.ts`).
 */
import assert from "node:assert/strict";
import { isIP } from "node:net";
import { test } from "node:test";
import fc from "fast-check";
import {
  connect,
  type ConnectOptions,
  errors,
  listen,
  type TcpConn,
  type TcpListener,
  type TcpListenOptions,
} from "../mod.ts";
import {
  close,
  op_net_accept_tcp,
  op_net_connect_tcp,
  op_net_listen_tcp,
  op_set_keepalive,
  op_set_nodelay,
  read,
  resources,
  setRef,
  shutdown,
  tryClose,
  write,
} from "../ops/mod.ts";
import {
  baseline,
  budget,
  checkClean,
  connectedPair,
  deadline,
  Figures,
  readFull,
  serveAll,
  sized,
  Tally,
  watchProcess,
} from "./_stress.ts";

const RUNS = sized(2_000, 50);
const SEQUENCE_RUNS = sized(1_000, 50);
/** Longest any single operation may take before it counts as a hang. */
const HANG_MS = 5_000;

const DOCUMENTED: (abstract new (...args: never[]) => Error)[] = [
  TypeError,
  RangeError,
  URIError,
  ...Object.values(errors),
];

/** Whether `err` is one of the documented classes. */
function documented(err: unknown): boolean {
  return DOCUMENTED.some((C) => err instanceof C);
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Fails unless `err` is documented (or is `also`, a reason the test gave). */
function assertDocumented(err: unknown, also?: unknown): void {
  assert.ok(
    err === also || documented(err),
    `undocumented error: ${describe(err)}`,
  );
}

/**
 * Runs `property` for `numRuns` runs (each bounded by `HANG_MS` × `perRun`)
 * and records it as a figure, with fast-check's report (seed, shrunk
 * counterexample) as the failure message.
 */
async function runProperty<T>(
  figures: Figures,
  name: string,
  property: fc.IAsyncPropertyWithHooks<T>,
  numRuns: number,
  perRun = 1,
): Promise<string | undefined> {
  const details = await fc.check(property, {
    numRuns,
    plugins: [fc.timeout(HANG_MS * perRun)],
  });
  figures.check(
    name,
    details.failed
      ? `failed at run ${details.numRuns} of ${numRuns}`
      : `${details.numRuns} runs`,
    `${numRuns} runs, every outcome documented`,
    !details.failed && details.numRuns === numRuns,
  );
  if (!details.failed) return undefined;
  return `${fc.defaultReportMessage(details)}\nError: ${
    describe(details.errorInstance)
  }`;
}

/** Fails with every figure out of limits, and fast-check's reports. */
function finish(figures: Figures, reports: (string | undefined)[]): void {
  const failures = reports.filter((r) => r !== undefined);
  if (failures.length > 0) assert.fail(failures.join("\n\n"));
  figures.assertAll();
}

// ---------------------------------------------------------------------------
// Arbitraries

/** Characters that make a host name invalid before any lookup. */
const BAD_HOST_CHARS = [
  " ",
  "/",
  "@",
  "!",
  "%",
  "é",
  "\0",
  "?",
  "*",
  "(",
  "\n",
];

/** A string with at least one character no host name may have. */
const invalidHost = fc.tuple(
  fc.string({ maxLength: 8 }),
  fc.constantFrom(...BAD_HOST_CHARS),
  fc.string({ maxLength: 8 }),
).map(([a, c, b]) => a + c + b)
  // fc.string can spell an IP literal around the character (`::1%lo`).
  .filter((host) => isIP(host) === 0);

/** Empty, bracketed and mis-labelled names: invalid before any lookup. */
const malformedHost = fc.constantFrom(
  "",
  ".",
  "..",
  "a..b",
  ".a",
  "[",
  "[]",
  "[zz]",
  "[127.0.0.1]",
  "[::1",
);

/** Values of other types: `String()` of each is invalid, or it is a default. */
const oddHost = fc.constantFrom<unknown>(undefined, null, {}, [], Symbol("h"));

const listenHost = fc.oneof(
  fc.constantFrom(
    "127.0.0.1",
    "localhost",
    "LOCALHOST",
    "::1",
    "[::1]",
    "0.0.0.0",
    "::",
    // TEST-NET-1 and the documentation prefix: never local, nothing sent.
    "192.0.2.1",
    "[2001:db8::1]",
  ),
  invalidHost,
  malformedHost,
  oddHost,
);

/** Loopback only: connecting to these reaches this machine or nothing. */
const connectHost = fc.oneof(
  fc.constantFrom("127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0"),
  invalidHost,
  malformedHost,
  oddHost,
);

/** Whether `value` names a usable port ≥ `min` (`Number()` semantics). */
function usablePort(value: unknown, min: number): boolean {
  if (typeof value !== "number" && typeof value !== "string") return false;
  if (value === "") return false;
  const n = Number(value);
  return Number.isInteger(n) && n >= min && n <= 65535;
}

/**
 * Ports of every kind. `owned` are the ports this test may bind or connect
 * to; any other value that would name a usable port is left out, so the test
 * never touches a port of someone else's.
 */
function portArb(owned: unknown[], min: number): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constantFrom(...owned),
    fc.integer({ min: 65_536 }),
    fc.integer({ max: min - 1 }),
    fc.double().filter((n) => !Number.isInteger(n)),
    fc.string({ maxLength: 6 }).filter((s) => !usablePort(s, 0)),
    fc.constantFrom<unknown>(null, undefined, true, {}, [], [5], 10n, ""),
  );
}

const transportArb = fc.oneof(
  fc.constantFrom<unknown>(undefined, "tcp", "udp", "unix", "TCP", ""),
  fc.anything(),
);

// ---------------------------------------------------------------------------

test(
  `bad input: ${RUNS} listen() option sets`,
  { timeout: budget(RUNS, 50) },
  async () => {
    const figures = new Figures("bad input: listen options");
    const watch = watchProcess();
    const before = baseline();
    const taken = listen({ hostname: "127.0.0.1", port: 0 });
    const options = fc.record({
      hostname: listenHost,
      port: portArb([0, "0", taken.addr.port], 0),
      transport: transportArb,
      reusePort: fc.option(fc.anything()),
      loadBalanced: fc.option(fc.anything()),
      tcpBacklog: fc.option(fc.integer({ min: -1, max: 100_000 })),
    }, { requiredKeys: [] });
    const property = fc.asyncProperty(
      fc.oneof(options, fc.constantFrom<unknown>(null, 5, "x", [])),
      (opts) => {
        let listener: TcpListener | undefined;
        try {
          listener = listen(opts as TcpListenOptions);
        } catch (err) {
          assertDocumented(err);
          return Promise.resolve();
        }
        listener.close();
        return Promise.resolve();
      },
    );
    const report = await runProperty(
      figures,
      "listen() outcomes",
      property,
      RUNS,
    );
    taken.close();
    await checkClean(figures, before, watch);
    finish(figures, [report]);
  },
);

test(
  `bad input: ${RUNS} connect() option sets`,
  { timeout: budget(RUNS, 50) },
  async () => {
    const figures = new Figures("bad input: connect options");
    const watch = watchProcess();
    const before = baseline();
    const sink = listen({ hostname: "127.0.0.1", port: 0 });
    const sinkErrors = new Tally();
    const serving = serveAll(sink, sinkErrors);
    const gone = listen({ hostname: "127.0.0.1", port: 0 });
    gone.close();
    const reason = new Error("the test aborted this connect");
    const property = fc.asyncProperty(
      fc.record({
        hostname: connectHost,
        port: portArb(
          [sink.addr.port, String(sink.addr.port), gone.addr.port],
          1,
        ),
        transport: transportArb,
        signal: fc.constantFrom("none", "aborted", "live"),
      }, { requiredKeys: [] }),
      async ({ signal, ...rest }) => {
        const controller = new AbortController();
        if (signal === "aborted") controller.abort(reason);
        const opts = {
          ...rest,
          ...(signal && signal !== "none" ? { signal: controller.signal } : {}),
        } as ConnectOptions;
        let conn: TcpConn | undefined;
        try {
          conn = await connect(opts);
        } catch (err) {
          assertDocumented(err, reason);
          return;
        }
        conn.close();
      },
    );
    const report = await runProperty(
      figures,
      "connect() outcomes",
      property,
      RUNS,
    );
    sink.close();
    await deadline(serving, HANG_MS, "sink winding down");
    await checkClean(figures, before, watch);
    finish(figures, [report]);
  },
);

// ---------------------------------------------------------------------------

type RidOp =
  | "read"
  | "write"
  | "shutdown"
  | "accept"
  | "close"
  | "setNoDelay"
  | "setKeepAlive"
  | "setRef"
  | "tryClose";

/** Ops that answer with a promise, and those that answer at once. */
const ASYNC_OPS: RidOp[] = ["read", "write", "shutdown", "accept"];
const SYNC_OPS: RidOp[] = ["close", "setNoDelay", "setKeepAlive"];
/** Ops that do nothing (and must not throw) for a rid that is not open. */
const QUIET_OPS: RidOp[] = ["setRef", "tryClose"];

function callOp(op: RidOp, rid: number): unknown {
  const buf = new Uint8Array(8);
  switch (op) {
    case "read":
      return read(rid, buf);
    case "write":
      return write(rid, buf);
    case "shutdown":
      return shutdown(rid);
    case "accept":
      return op_net_accept_tcp(rid);
    case "close":
      return close(rid);
    case "setNoDelay":
      return op_set_nodelay(rid, true);
    case "setKeepAlive":
      return op_set_keepalive(rid, true);
    case "setRef":
      return setRef(rid, false);
    case "tryClose":
      return tryClose(rid);
  }
}

/** A rid-level error: BadResource, or TypeError for a number no rid can be. */
function assertBadRid(err: unknown, rid: number): void {
  const u32 = Number.isInteger(rid) && rid >= 0 && rid < 2 ** 32;
  assert.ok(
    err instanceof errors.BadResource || (!u32 && err instanceof TypeError),
    `rid ${rid}: ${describe(err)}`,
  );
}

test(
  `bad input: ${RUNS} op calls with rids that are not open or not of the kind`,
  { timeout: budget(RUNS, 20) },
  async () => {
    const figures = new Figures("bad input: rids");
    const watch = watchProcess();
    const before = baseline();
    // Open resources of each kind, to pass to the ops of the other kind.
    const [listenerRid, addr] = op_net_listen_tcp({
      hostname: "127.0.0.1",
      port: 0,
    });
    const accepted = op_net_accept_tcp(listenerRid);
    const [clientRid] = await op_net_connect_tcp(addr);
    const [serverRid] = await accepted;
    const [closedRid] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
    close(closedRid);

    const owned = [listenerRid, clientRid, serverRid];
    // A number that happens to be one of this test's rids is not "not open"
    // (tryClose would close it): the wrong-kind calls are the records below.
    const notOpen = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.constantFrom(0, 1, 2, -1, -0, 2 ** 31, 2 ** 32, 2 ** 53, closedRid),
    ).filter((rid) => !owned.includes(rid));
    const property = fc.asyncProperty(
      fc.oneof(
        fc.record({
          rid: notOpen,
          op: fc.constantFrom(...ASYNC_OPS, ...SYNC_OPS, ...QUIET_OPS),
        }),
        // A listener where a stream belongs, and the other way round.
        fc.record({
          rid: fc.constant(listenerRid),
          op: fc.constantFrom<RidOp>(
            "read",
            "write",
            "shutdown",
            "setNoDelay",
            "setKeepAlive",
          ),
        }),
        fc.record({
          rid: fc.constantFrom(clientRid, serverRid),
          op: fc.constant<RidOp>("accept"),
        }),
      ),
      async ({ rid, op }) => {
        // Nor is a rid another part of the process holds.
        fc.pre(owned.includes(rid) || !(rid in resources()));
        if (ASYNC_OPS.includes(op)) {
          let result: unknown;
          assert.doesNotThrow(() => {
            result = callOp(op, rid);
          }, `${op}(${rid}) threw instead of rejecting`);
          assert.ok(result instanceof Promise, `${op}(${rid}) is no promise`);
          await assert.rejects(
            deadline(result, HANG_MS, `${op}(${rid})`),
            (err) => {
              assertBadRid(err, rid);
              return true;
            },
          );
        } else if (SYNC_OPS.includes(op)) {
          assert.throws(() => callOp(op, rid), (err) => {
            assertBadRid(err, rid);
            return true;
          });
        } else {
          assert.equal(callOp(op, rid), undefined);
        }
        // The wrong-kind call left the right resources as they were.
        for (const r of owned) assert.ok(r in resources(), `rid ${r} closed`);
      },
    );
    const report = await runProperty(figures, "op outcomes", property, RUNS);
    for (const rid of [clientRid, serverRid, listenerRid]) close(rid);
    await checkClean(figures, before, watch);
    finish(figures, [report]);
  },
);

// ---------------------------------------------------------------------------

/** Byte views `read` and `write` take: Uint8Array, including subclasses and odd backings. */
const validBuffer: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 70_000 }),
  fc.tuple(
    fc.uint8Array({ minLength: 1, maxLength: 300 }),
    fc.nat(),
    fc.nat(),
  ).map(([u, a, b]) => {
    const start = a % u.length;
    return u.subarray(start, start + (b % (u.length - start + 1)));
  }),
  fc.uint8Array({ maxLength: 64 }).map((u) => {
    const shared = new Uint8Array(new SharedArrayBuffer(u.length));
    shared.set(u);
    return shared;
  }),
);

/** Anything else: other typed arrays, DataView, ArrayBuffer, strings, nothing. */
const invalidBuffer: fc.Arbitrary<unknown> = fc.oneof(
  fc.int8Array({ maxLength: 64 }),
  fc.uint8ClampedArray({ maxLength: 64 }),
  fc.uint16Array({ maxLength: 64 }),
  fc.float64Array({ maxLength: 16 }),
  fc.constantFrom<unknown>(
    new ArrayBuffer(8),
    new DataView(new ArrayBuffer(8)),
    "abc",
    5,
    null,
    undefined,
    {},
    [1, 2, 3],
  ),
);

type BufferStep = { op: "write" | "read"; valid: boolean; buf: unknown };

const bufferStep: fc.Arbitrary<BufferStep> = fc.oneof(
  fc.record({
    op: fc.constantFrom<"write" | "read">("write", "read"),
    valid: fc.constant(true),
    buf: validBuffer,
  }),
  fc.record({
    op: fc.constantFrom<"write" | "read">("write", "read"),
    valid: fc.constant(false),
    buf: invalidBuffer,
  }),
);

/** The bytes the client sends before a `read` step: a counter, so order shows. */
function fill(size: number, from: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (from + i) & 0xff);
}

test(
  `bad input: ${RUNS} buffer sequences for read and write`,
  { timeout: budget(RUNS, 100) },
  async () => {
    const figures = new Figures("bad input: buffers");
    const watch = watchProcess();
    const before = baseline();
    const property = fc.asyncProperty(
      fc.array(bufferStep, { minLength: 1, maxLength: 6 }),
      async (steps) => {
        const { client, server } = await connectedPair();
        try {
          let counter = 0;
          for (const { op, valid, buf } of steps) {
            if (op === "write") {
              const p = client.write(buf as Uint8Array);
              if (!valid) {
                await assert.rejects(deadline(p, HANG_MS, "write"), TypeError);
                continue;
              }
              const view = buf as Uint8Array;
              assert.equal(await deadline(p, HANG_MS, "write"), view.length);
              const got = new Uint8Array(view.length);
              assert.ok(await deadline(readFull(server, got), HANG_MS, "read"));
              assert.deepEqual(got, new Uint8Array(view));
            } else if (!valid) {
              const p = server.read(buf as Uint8Array);
              if ((buf as { length?: unknown })?.length === 0) {
                // `Conn#read` answers an empty view before the op, as Deno's.
                assert.equal(await deadline(p, HANG_MS, "read"), 0);
              } else {
                await assert.rejects(deadline(p, HANG_MS, "read"), TypeError);
              }
            } else {
              const view = buf as Uint8Array;
              const sent = fill(Math.min(view.length, 100), counter);
              counter += sent.length;
              await client.write(sent);
              const n = await deadline(server.read(view), HANG_MS, "read");
              if (view.length === 0) {
                assert.equal(n, 0);
                continue;
              }
              assert.ok(n !== null && n >= 1 && n <= sent.length, `read ${n}`);
              assert.deepEqual(
                new Uint8Array(view.subarray(0, n)),
                sent.subarray(0, n),
              );
              const rest = new Uint8Array(sent.length - n);
              assert.ok(
                await deadline(readFull(server, rest), HANG_MS, "rest"),
              );
              assert.deepEqual(rest, sent.subarray(n));
            }
          }
          // Nothing a rejected call took got sent or swallowed: the marker
          // is the next byte.
          await client.write(new Uint8Array([0xab]));
          const marker = new Uint8Array(1);
          assert.ok(
            await deadline(readFull(server, marker), HANG_MS, "marker"),
          );
          assert.equal(marker[0], 0xab);
        } finally {
          client.close();
          server.close();
        }
      },
    );
    const report = await runProperty(
      figures,
      "read/write outcomes",
      property,
      RUNS,
      6,
    );
    await checkClean(figures, before, watch);
    finish(figures, [report]);
  },
);

// ---------------------------------------------------------------------------
// Call orders: a model of one connection and its listener, and commands in
// any order. Each command knows what the model lets it expect; where the
// network decides (a peer that closed may have sent FIN or RST), every
// outcome the OS allows is accepted and the model follows the one seen.

type Side = "client" | "server";

const other = (side: Side): Side => side === "client" ? "server" : "client";

interface Model {
  closed: Record<Side, boolean>;
  /** `closeWrite()` was called on this side. */
  shut: Record<Side, boolean>;
  /** Bytes written towards this side and not read yet. */
  unread: Record<Side, number>;
  listenerClosed: boolean;
}

interface Real {
  listener: TcpListener;
  conns: Record<Side, TcpConn>;
}

type Outcome = { value?: unknown; error?: unknown };

/** Operations the call-order commands made, for the report. */
let operations = 0;

/** Runs `fn` (sync or async) to its outcome, failing on a hang. */
async function outcomeOf(what: string, fn: () => unknown): Promise<Outcome> {
  operations++;
  try {
    return { value: await deadline(Promise.resolve(fn()), HANG_MS, what) };
  } catch (error) {
    if (error instanceof Error && /no answer within/.test(error.message)) {
      throw error;
    }
    return { error };
  }
}

/** Fails unless `outcome` is an error named one of `names`. */
function expectError(what: string, outcome: Outcome, ...names: string[]): void {
  assert.ok(
    outcome.error !== undefined && documented(outcome.error) &&
      names.includes((outcome.error as Error).name),
    `${what}: expected ${names.join(" or ")}, got ${
      outcome.error ? describe(outcome.error) : `value ${outcome.value}`
    }`,
  );
}

/** Errors a side may see once its peer closed (FIN or RST, as it came). */
const PEER_GONE = ["ConnectionReset", "BrokenPipe", "NotConnected"];

class WriteCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly side: Side, readonly size: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const what = this.toString();
    const got = await outcomeOf(
      what,
      () => r.conns[this.side].write(new Uint8Array(this.size)),
    );
    if (m.closed[this.side]) return expectError(what, got, "BadResource");
    if (m.shut[this.side]) return expectError(what, got, "BrokenPipe");
    if (m.closed[other(this.side)]) {
      if (got.error) expectError(what, got, ...PEER_GONE);
      else assert.equal(got.value, this.size, what);
      return;
    }
    assert.equal(got.value, this.size, `${what}: ${describe(got.error)}`);
    m.unread[other(this.side)] += this.size;
  }
  toString(): string {
    return `${this.side}.write(${this.size} bytes)`;
  }
}

class ReadCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly side: Side, readonly size: number) {}
  /** Only reads that must answer: no data and an open peer would wait. */
  check(m: Readonly<Model>): boolean {
    const peer = other(this.side);
    return this.size === 0 || m.closed[this.side] || m.unread[this.side] > 0 ||
      m.shut[peer] || m.closed[peer];
  }
  async run(m: Model, r: Real): Promise<void> {
    const what = this.toString();
    const got = await outcomeOf(
      what,
      () => r.conns[this.side].read(new Uint8Array(this.size)),
    );
    if (this.size === 0) return assert.equal(got.value, 0, what);
    if (m.closed[this.side]) return expectError(what, got, "BadResource");
    const unread = m.unread[this.side];
    const n = got.value;
    if (typeof n === "number" && n >= 1 && n <= Math.min(this.size, unread)) {
      m.unread[this.side] -= n;
      return;
    }
    if (m.closed[other(this.side)]) {
      // A reset may drop what was on its way. (Native Deno reads EOF after
      // a reset; on Node the error a write met comes back from reads too.)
      if (got.error) expectError(what, got, ...PEER_GONE);
      else assert.equal(n, null, `${what}: ${n} of ${unread} unread`);
      m.unread[this.side] = 0;
      return;
    }
    assert.ok(
      unread === 0 && n === null,
      `${what}: got ${got.error ? describe(got.error) : n}, ${unread} unread`,
    );
  }
  toString(): string {
    return `${this.side}.read(${this.size} bytes)`;
  }
}

class CloseWriteCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly side: Side) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const what = this.toString();
    const got = await outcomeOf(what, () => r.conns[this.side].closeWrite());
    if (m.closed[this.side]) return expectError(what, got, "BadResource");
    if (got.error && m.closed[other(this.side)]) {
      // Too late to shut down: the connection is gone either way.
      return expectError(what, got, ...PEER_GONE);
    }
    assert.equal(got.error, undefined, `${what}: ${describe(got.error)}`);
    m.shut[this.side] = true;
  }
  toString(): string {
    return `${this.side}.closeWrite()`;
  }
}

class CloseCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly side: Side) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const what = this.toString();
    const got = await outcomeOf(what, () => r.conns[this.side].close());
    if (m.closed[this.side]) return expectError(what, got, "BadResource");
    assert.equal(got.error, undefined, `${what}: ${describe(got.error)}`);
    m.closed[this.side] = true;
  }
  toString(): string {
    return `${this.side}.close()`;
  }
}

class SetOptionCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly side: Side, readonly option: "noDelay" | "keepAlive") {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const what = this.toString();
    const conn = r.conns[this.side];
    const got = await outcomeOf(
      what,
      () => this.option === "noDelay" ? conn.setNoDelay() : conn.setKeepAlive(),
    );
    if (m.closed[this.side]) return expectError(what, got, "BadResource");
    if (got.error && m.closed[other(this.side)]) {
      return expectError(what, got, ...PEER_GONE);
    }
    assert.equal(got.value, null, `${what}: ${describe(got.error)}`);
  }
  toString(): string {
    return `${this.side}.set${this.option[0].toUpperCase()}${
      this.option.slice(1)
    }()`;
  }
}

/** Two accepts at once (the second is Busy), then a client for the first. */
class AcceptCommand implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const what = this.toString();
    if (m.listenerClosed) {
      const got = await outcomeOf(what, () => r.listener.accept());
      return expectError(what, got, "BadResource");
    }
    const first = r.listener.accept();
    const second = await outcomeOf(what, () => r.listener.accept());
    expectError(`${what}, the second`, second, "Busy");
    const client = await connect({
      hostname: "127.0.0.1",
      port: r.listener.addr.port,
    });
    const server = await deadline(first, HANG_MS, what);
    assert.equal(server.remoteAddr.port, client.localAddr.port, what);
    client.close();
    server.close();
  }
  toString(): string {
    return "listener.accept() twice";
  }
}

class CloseListenerCommand implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const what = this.toString();
    const got = await outcomeOf(what, () => r.listener.close());
    if (m.listenerClosed) return expectError(what, got, "BadResource");
    assert.equal(got.error, undefined, `${what}: ${describe(got.error)}`);
    m.listenerClosed = true;
  }
  toString(): string {
    return "listener.close()";
  }
}

const side = fc.constantFrom<Side>("client", "server");
const commandArbs = [
  fc.tuple(side, fc.integer({ min: 1, max: 16_384 })).map(([s, n]) =>
    new WriteCommand(s, n)
  ),
  fc.tuple(side, fc.integer({ min: 0, max: 16_384 })).map(([s, n]) =>
    new ReadCommand(s, n)
  ),
  side.map((s) => new CloseWriteCommand(s)),
  side.map((s) => new CloseCommand(s)),
  fc.tuple(
    side,
    fc.constantFrom<"noDelay" | "keepAlive">("noDelay", "keepAlive"),
  )
    .map(([s, o]) => new SetOptionCommand(s, o)),
  fc.constant(new AcceptCommand()),
  fc.constant(new CloseListenerCommand()),
];

const MAX_COMMANDS = 24;

test(
  `bad input: ${SEQUENCE_RUNS} call orders on a connection and its listener`,
  { timeout: budget(SEQUENCE_RUNS, 500) },
  async () => {
    const figures = new Figures("bad input: call orders");
    const watch = watchProcess();
    const before = baseline();
    const property = fc.asyncProperty(
      fc.commands(commandArbs, { maxCommands: MAX_COMMANDS, size: "large" }),
      async (commands) => {
        const listener = listen({ hostname: "127.0.0.1", port: 0 });
        const accepted = listener.accept();
        const client = await connect({
          hostname: "127.0.0.1",
          port: listener.addr.port,
        });
        const real: Real = {
          listener,
          conns: { client, server: await accepted },
        };
        try {
          await fc.asyncModelRun(() => ({
            model: {
              closed: { client: false, server: false },
              shut: { client: false, server: false },
              unread: { client: 0, server: 0 },
              listenerClosed: false,
            },
            real,
          }), commands);
        } finally {
          real.conns.client[Symbol.dispose]();
          real.conns.server[Symbol.dispose]();
          listener[Symbol.dispose]();
        }
      },
    );
    const report = await runProperty(
      figures,
      "call-order outcomes",
      property,
      SEQUENCE_RUNS,
      MAX_COMMANDS,
    );
    figures.atLeast("operations called", operations, SEQUENCE_RUNS);
    await checkClean(figures, before, watch);
    finish(figures, [report]);
  },
);
