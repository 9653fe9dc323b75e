/**
 * Faults: peers that misbehave, and listeners that go away with connections
 * queued. What the server sees must be one of Deno's error classes, never an
 * `uncaughtException`, and nothing may stay open afterwards.
 *
 * Worker-thread and process kills are not here: they need the multi-process
 * runner, which is not in this branch.
 *
 * Sizes follow `STRESS_SCALE` (see `_stress.ts`).
 */
import { test } from "node:test";
import { connect, listen, type TcpConn, type TcpListener } from "../mod.ts";
import {
  baseline,
  budget,
  checkClean,
  connectedPair,
  deadline,
  delay,
  explainFdExhaustion,
  Figures,
  fitFds,
  inBursts,
  kib,
  listenAs,
  readFull,
  serveAll,
  sized,
  socketBufferBytes,
  somaxconn,
  strategyCases,
  Tally,
  watchProcess,
} from "./_stress.ts";

const CHUNK = 64 * 1024;

/** Byte `i` of every stream these tests send: checks order as well as count. */
function patternByte(i: number): number {
  return i % 251;
}

function patternChunk(offset: number, size: number): Uint8Array {
  const chunk = new Uint8Array(size);
  for (let i = 0; i < size; i++) chunk[i] = patternByte(offset + i);
  return chunk;
}

/** Settles to `{ value }` or `{ error }`, so one outcome never rejects a Promise.all. */
function outcome<T>(p: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return p.then((value) => ({ value }), (error) => ({ error }));
}

// ---------------------------------------------------------------------------

const RESET_PAIRS = sized(200, 10);
/** Writes per server before giving up on the reset arriving (16 MiB). */
const RESET_MAX_CHUNKS = 256;

test(
  `faults: ${RESET_PAIRS} peers reset the connection while the server writes`,
  { timeout: budget(RESET_PAIRS, 200) },
  async () => {
    const figures = new Figures("fault: peer resets mid-write");
    const watch = watchProcess();
    const before = baseline();
    const writeErrors = new Tally();
    const readOutcomes = new Tally();
    let neverFailed = 0;
    const chunk = new Uint8Array(CHUNK);

    await inBursts(
      Array.from({ length: RESET_PAIRS }, (_, i) => i),
      // A pair holds a listener for a moment and two ends.
      fitFds(50, 3),
      async () => {
        const { client, server } = await connectedPair();
        const pendingRead = outcome(server.read(new Uint8Array(16)));
        const writing = (async () => {
          for (let i = 0; i < RESET_MAX_CHUNKS; i++) await server.write(chunk);
        })();
        // Data is flowing; closing with unread data makes the kernel send RST.
        await client.read(new Uint8Array(1024));
        client.close();
        const wrote = await outcome(writing);
        if (wrote.error) writeErrors.add(wrote.error);
        else neverFailed++;
        const read = await deadline(pendingRead, 10_000, "pending read");
        readOutcomes.add(read.error ?? read.value);
        server.close();
      },
    );

    const allowed = writeErrors.of("BrokenPipe", "ConnectionReset");
    figures.check(
      "server writes failing with BrokenPipe/ConnectionReset",
      writeErrors.toString(),
      `= ${RESET_PAIRS} of those`,
      allowed === RESET_PAIRS,
    );
    figures.exactly("server writes that never failed", neverFailed, 0);
    figures.check(
      "pending server reads: EOF (null) or ConnectionReset",
      readOutcomes.toString(),
      `= ${RESET_PAIRS} of those`,
      readOutcomes.of("null", "ConnectionReset") === RESET_PAIRS,
    );
    await checkClean(figures, before, watch);
    figures.assertAll();
  },
);

// ---------------------------------------------------------------------------

const SLOW_PAIRS = sized(8, 2);
/** How long a write must stay pending to count as held back. */
const STALL_MS = 1_000;

/**
 * Writes `CHUNK`s, each awaited, until one stays pending for `STALL_MS`. Returns the bytes accepted before it and the pending write; stops
 * early (returning no pending write) once `limit` bytes were accepted.
 */
async function writeUntilHeld(
  conn: TcpConn,
  limit: number,
): Promise<{ accepted: number; pending?: Promise<number> }> {
  let accepted = 0;
  const maxWrites = Math.ceil(limit / CHUNK) + 1;
  for (let i = 0; i < maxWrites; i++) {
    const write = conn.write(patternChunk(accepted, CHUNK));
    let done = false;
    write.then(() => done = true, () => done = true);
    // A busy machine can be slow to complete a write: only a write still
    // pending after `STALL_MS` counts as held back.
    const heldAt = Date.now() + STALL_MS;
    while (!done && Date.now() < heldAt) await delay(5);
    if (!done) return { accepted, pending: write };
    accepted += await write;
  }
  return { accepted };
}

test(
  `faults: ${SLOW_PAIRS} peers that never read hold writes back at the socket buffers`,
  { timeout: budget(SLOW_PAIRS, 5_000) },
  async () => {
    const figures = new Figures("fault: peer never reads");
    const watch = watchProcess();
    const before = baseline();
    const limit = socketBufferBytes() + 2 * CHUNK;
    const results = await Promise.all(
      Array.from({ length: SLOW_PAIRS }, async () => {
        const { client, server } = await connectedPair();
        const { accepted, pending } = await writeUntilHeld(server, limit);
        // Now the peer reads: everything accepted, then the held write, in order.
        const expected = accepted + (pending ? CHUNK : 0);
        const got = new Uint8Array(expected);
        const read = await deadline(
          readFull(client, got),
          30_000,
          "reading back",
        );
        const intact = read && got.every((b, i) => b === patternByte(i));
        const released = pending
          ? (await deadline(outcome(pending), 10_000, "held write")).value ===
            CHUNK
          : false;
        client.close();
        server.close();
        return { accepted, held: Boolean(pending), intact, released };
      }),
    );

    const most = Math.max(...results.map((r) => r.accepted));
    figures.check(
      "most bytes write() accepted before holding back",
      `${kib(most)} KiB`,
      `≤ ${kib(limit)} KiB (socket buffers + 2 writes)`,
      most <= limit,
    );
    figures.exactly(
      "connections whose write was held back",
      results.filter((r) => r.held).length,
      SLOW_PAIRS,
    );
    figures.exactly(
      "held writes that completed once the peer read",
      results.filter((r) => r.released).length,
      SLOW_PAIRS,
    );
    figures.exactly(
      "streams read back whole and in order",
      results.filter((r) => r.intact).length,
      SLOW_PAIRS,
    );
    await checkClean(figures, before, watch);
    figures.assertAll();
  },
);

// ---------------------------------------------------------------------------

const HALF_CLOSE_PAIRS = sized(1_000, 50);
const REQUEST_BYTES = 3_000;

test(
  `faults: ${HALF_CLOSE_PAIRS} peers half-close; the other side reads EOF and still answers`,
  { timeout: budget(HALF_CLOSE_PAIRS, 20) },
  async () => {
    const figures = new Figures("fault: peer half-closes");
    const watch = watchProcess();
    const before = baseline();
    const listener = listen({ hostname: "127.0.0.1", port: 0 });
    const serverErrors = new Tally();
    let eofTwice = 0;
    const serving = serveAll(listener, serverErrors, async (conn) => {
      const request = new Uint8Array(REQUEST_BYTES + 1);
      let n = 0;
      for (let i = 0; i <= REQUEST_BYTES; i++) {
        const got = await conn.read(request.subarray(n));
        if (got === null) break;
        n += got;
      }
      if ((await conn.read(new Uint8Array(1))) === null) eofTwice++;
      // The answer: the request reversed, on the direction still open.
      await conn.write(request.subarray(0, n).reverse());
    });

    const clientErrors = new Tally();
    let answered = 0;
    await inBursts(
      Array.from({ length: HALF_CLOSE_PAIRS }, (_, i) => i),
      fitFds(100, 2),
      async (id) => {
        let conn: TcpConn;
        try {
          conn = await connect({
            hostname: "127.0.0.1",
            port: listener.addr.port,
          });
        } catch (err) {
          clientErrors.add(err);
          return;
        }
        try {
          const request = patternChunk(id, REQUEST_BYTES);
          await conn.write(request);
          await conn.closeWrite();
          const answer = new Uint8Array(REQUEST_BYTES);
          const whole = await readFull(conn, answer);
          const eof = (await conn.read(new Uint8Array(1))) === null;
          if (
            whole && eof && answer.every((b, i) => b === request.at(-1 - i))
          ) {
            answered++;
          } else {
            clientErrors.add(new Error("wrong answer"));
          }
        } catch (err) {
          clientErrors.add(err);
        } finally {
          conn.close();
        }
      },
    );
    listener.close();
    await deadline(serving, 10_000, "server winding down");

    figures.exactly(
      "answers read after closeWrite",
      answered,
      HALF_CLOSE_PAIRS,
    );
    figures.exactly("servers that read EOF twice", eofTwice, HALF_CLOSE_PAIRS);
    figures.none("client errors", clientErrors);
    figures.none("server errors", serverErrors);
    await checkClean(figures, before, watch);
    figures.assertAll();
  },
);

// ---------------------------------------------------------------------------

/** Queued connections: what one kernel listen queue can hold, and the fds
 * allow (a client, a held handle on Node, the sibling's end). */
const QUEUED = fitFds(Math.min(sized(1_000, 50), (somaxconn() ?? 4096) - 8), 3);

for (const strategy of strategyCases()) {
  const emulated = strategy.strategy === "emulated";
  test(
    `faults: a listener closes with ${QUEUED} connections queued, ${strategy.label}`,
    { timeout: budget(QUEUED, 30) },
    async () => {
      const figures = new Figures(
        `fault: listener closed, ${QUEUED} queued, ${strategy.label}`,
      );
      const watch = watchProcess();
      const before = baseline();
      const options = { hostname: "127.0.0.1", tcpBacklog: QUEUED + 8 };
      let closing: TcpListener;
      let sibling: TcpListener;
      try {
        closing = listenAs(strategy, { ...options, port: 0 });
        sibling = listenAs(strategy, { ...options, port: closing.addr.port });
      } catch (err) {
        return explainFdExhaustion(err);
      }
      const port = closing.addr.port;

      // Every client connects and sends its id while nobody accepts.
      const clients: TcpConn[] = [];
      const connectErrors = new Tally();
      await inBursts(
        Array.from({ length: QUEUED }, (_, i) => i),
        250,
        async (id) => {
          try {
            const conn = await connect({
              hostname: "127.0.0.1",
              port,
              signal: AbortSignal.timeout(20_000),
            });
            clients[id] = conn;
            const out = new Uint8Array(4);
            new DataView(out.buffer).setUint32(0, id);
            await conn.write(out);
          } catch (err) {
            connectErrors.add(err);
          }
        },
      );
      closing.close();

      // The sibling takes what is left: reads the id, acknowledges, closes.
      const seen = new Uint8Array(QUEUED);
      const siblingErrors = new Tally();
      const serving = serveAll(sibling, siblingErrors, async (conn) => {
        const id = new Uint8Array(4);
        if (await readFull(conn, id)) {
          const n = new DataView(id.buffer).getUint32(0);
          if (n < QUEUED) seen[n]++;
          await conn.write(new Uint8Array([1]));
        }
      });

      // Each client hears the acknowledgement, or is told the connection went.
      const outcomes = new Tally();
      await Promise.all(clients.map(async (conn) => {
        if (!conn) return;
        try {
          const got = await deadline(
            conn.read(new Uint8Array(1)),
            20_000,
            "client waiting for its fate",
          );
          outcomes.add(got === 1 ? "reached" : "EOF");
        } catch (err) {
          outcomes.add(err);
        } finally {
          conn.close();
        }
      }));
      sibling.close();
      await deadline(serving, 10_000, "sibling winding down");

      const reached = outcomes.of("reached");
      const once = seen.filter((n) => n === 1).length;
      figures.none("connect errors", connectErrors);
      figures.check(
        "client outcomes",
        outcomes.toString(),
        emulated ? `= ${QUEUED} reached` : `= ${QUEUED} reached, reset or EOF`,
        emulated
          ? reached === QUEUED
          : outcomes.of("reached", "ConnectionReset", "EOF") ===
            QUEUED,
      );
      figures.exactly("ids the sibling accepted exactly once", once, reached);
      if (!emulated) {
        // What sat in the closed socket's own queue is reset: count it.
        figures.check(
          "reset when their listener closed",
          QUEUED - reached,
          "reported",
          true,
        );
      }
      figures.none("sibling errors", siblingErrors);
      await checkClean(figures, before, watch);
      figures.assertAll();
    },
  );
}
