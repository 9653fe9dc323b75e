/**
 * Leaks: listen/close and connect/close cycles, and the same with an error
 * on every path. After each round open fds (`/proc/self/fd`), rids and
 * shared sockets are back where they started, and memory (heap after GC, or
 * RSS where `gc()` is out of reach) does not grow from the first round to
 * the last.
 *
 * Sizes follow `STRESS_SCALE` (see `_stress.ts`): 10,000 cycles per case at
 * full size, in five rounds.
 */
import { test } from "node:test";
import { connect, listen, type Listener } from "../mod.ts";
import {
  baseline,
  budget,
  checkClean,
  connectedPair,
  delay,
  Figures,
  kib,
  listenAs,
  memory,
  MEMORY_KIND,
  openFds,
  openResources,
  serveAll,
  settle,
  sharedSockets,
  sized,
  strategyCases,
  Tally,
  watchProcess,
} from "./_stress.ts";

const CYCLES = sized(10_000, 250);
const ROUNDS = sized(5, 3);
/** Cycles run at once: enough to keep the machine busy, few enough for any ulimit. */
const WIDTH = 25;
/** Growth allowed from the first round to the last: loose, memory is noisy. */
const MEMORY_SLACK = 4 * 1024 * 1024;

/** One cycle; returns `"ok"`, or what went otherwise than expected. */
type Cycle = () => Promise<string>;

interface LeakCase {
  name: string;
  /** Sets up what the cycles need; returns the cycle and a teardown. */
  setup(): { cycle: Cycle; teardown(): Promise<void> };
}

/** `fn`'s error name, or `"ok"`. */
async function nameOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return "ok";
  } catch (err) {
    return err instanceof Error ? err.name : String(err);
  }
}

/** A listener that accepts and closes everything, until it is closed. */
function sink(): { listener: Listener; done: Promise<number> } {
  const listener = listen({ hostname: "127.0.0.1", port: 0 });
  return { listener, done: serveAll(listener, new Tally()) };
}

/**
 * A port nothing listens on for the whole test: below the ephemeral range, so
 * that no port-0 listener (ours, or another process's: the stress run tests
 * the runtimes side by side) can take it, as one did with a port just closed.
 */
const REFUSED_PORT = 1;

const nothing = (): Promise<void> => Promise.resolve();

/**
 * Every error path once, each with the error it must end in: a taken port, an
 * address not of this machine, a closed port, bad host names, a connect
 * aborted on its way, and every operation on closed resources.
 */
function errorPaths(): { cycle: Cycle; teardown(): Promise<void> } {
  const held = listen({ hostname: "127.0.0.1", port: 0 });
  const { listener, done } = sink();
  const port = REFUSED_PORT;
  const reason = new Error("aborted");
  reason.name = "Aborted";
  const paths: [string, () => Promise<string>][] = [
    [
      "AddrInUse",
      () =>
        nameOf(() =>
          listen({ hostname: "127.0.0.1", port: held.addr.port }).close()
        ),
    ],
    // TEST-NET-1: never a local address; binding to it sends nothing.
    [
      "AddrNotAvailable",
      () => nameOf(() => listen({ hostname: "192.0.2.1", port: 0 }).close()),
    ],
    [
      "ConnectionRefused",
      () =>
        nameOf(async () =>
          (await connect({ hostname: "127.0.0.1", port })).close()
        ),
    ],
    [
      "URIError",
      () => nameOf(() => listen({ hostname: "a b", port: 0 }).close()),
    ],
    [
      "URIError",
      () =>
        nameOf(async () =>
          (await connect({ hostname: "a..b", port: 1 })).close()
        ),
    ],
    ["Aborted", () =>
      nameOf(async () => {
        const controller = new AbortController();
        const connecting = connect({
          hostname: "127.0.0.1",
          port: listener.addr.port,
          signal: controller.signal,
        });
        controller.abort(reason);
        (await connecting).close();
      })],
    ["BadResource", async () => {
      const { client, server } = await connectedPair();
      const closed = listen({ hostname: "127.0.0.1", port: 0 });
      client.close();
      server.close();
      closed.close();
      const names = new Set([
        await nameOf(() => client.read(new Uint8Array(8))),
        await nameOf(() => client.write(new Uint8Array(8))),
        await nameOf(() => client.closeWrite()),
        await nameOf(() => server.close()),
        await nameOf(() => closed.accept()),
        await nameOf(() => closed.close()),
      ]);
      return [...names].join("/");
    }],
  ];
  return {
    cycle: async () => {
      const wrong: string[] = [];
      for (const [expected, path] of paths) {
        const got = await path();
        if (got !== expected) wrong.push(`${got} for ${expected}`);
      }
      return wrong.length === 0 ? "ok" : wrong.join(", ");
    },
    teardown: async () => {
      held.close();
      listener.close();
      await done;
    },
  };
}

const cases: LeakCase[] = [
  {
    name: "listen/close",
    setup: () => ({
      cycle: () =>
        nameOf(() => listen({ hostname: "127.0.0.1", port: 0 }).close()),
      teardown: nothing,
    }),
  },
  {
    // Two listeners on one address, in each of the strategy cases.
    name: "shared listen/close",
    setup: () => ({
      cycle: () =>
        nameOf(() => {
          for (const c of strategyCases()) {
            const a = listenAs(c, { hostname: "127.0.0.1", port: 0 });
            const b = listenAs(c, { hostname: "127.0.0.1", port: a.addr.port });
            a.close();
            b.close();
          }
        }),
      teardown: nothing,
    }),
  },
  {
    name: "connect/close",
    setup: () => {
      const { listener, done } = sink();
      return {
        cycle: () =>
          nameOf(async () => {
            const conn = await connect({
              hostname: "127.0.0.1",
              port: listener.addr.port,
            });
            // Wait for the server's close, so both ends are gone.
            await conn.read(new Uint8Array(1));
            conn.close();
          }),
        teardown: async () => {
          listener.close();
          await done;
        },
      };
    },
  },
  {
    name: "errors on every path",
    setup: errorPaths,
  },
];

for (const leak of cases) {
  test(
    `leaks: ${CYCLES} cycles of ${leak.name}`,
    { timeout: budget(CYCLES, 5) },
    async () => {
      const figures = new Figures(`leaks: ${leak.name}`);
      const watch = watchProcess();
      const before = baseline();
      const { cycle, teardown } = leak.setup();
      const outcomes = new Tally();
      const run = async (count: number): Promise<void> => {
        for (let i = 0; i < count; i += WIDTH) {
          const width = Math.min(WIDTH, count - i);
          const names = await Promise.all(Array.from({ length: width }, cycle));
          for (const name of names) outcomes.add(name);
        }
      };
      const perRound = Math.ceil(CYCLES / ROUNDS);
      // A warm-up round first: lazily made runtime state is not a leak.
      await run(Math.min(perRound, 200));
      await delay(100);
      const start = {
        fds: openFds(),
        resources: openResources(),
        shared: sharedSockets(),
      };
      const mem: number[] = [];
      let worstFds = 0;
      let worstRids = 0;
      let worstShared = 0;
      for (let round = 0; round < ROUNDS; round++) {
        await run(perRound);
        const rids = await settle(openResources, (n) => n <= start.resources);
        worstRids = Math.max(worstRids, rids - start.resources);
        worstShared = Math.max(worstShared, sharedSockets() - start.shared);
        if (start.fds !== undefined) {
          const fds = await settle(() => openFds()!, (n) => n <= start.fds!);
          worstFds = Math.max(worstFds, fds - start.fds);
        }
        // Let the event loop turn: a runtime frees closed handles in its
        // close callbacks, which synchronous cycles never give a turn to.
        await delay(50);
        mem.push(memory());
      }
      await teardown();

      const unexpected = outcomes.total - outcomes.of("ok");
      figures.check(
        "cycles that went otherwise than expected",
        unexpected === 0 ? "0" : outcomes.toString(),
        "= 0",
        unexpected === 0,
      );
      figures.check(
        "left open after a round, most (rids, shared sockets, fds)",
        `${worstRids}, ${worstShared}, ${
          start.fds === undefined ? "n/a" : worstFds
        }`,
        "0, 0, 0",
        worstRids <= 0 && worstShared <= 0 && worstFds <= 0,
      );
      // The later rounds against the first; the lower of the last two, as
      // one round's garbage may still be in flight.
      const growth = Math.min(...mem.slice(-2)) - mem[0];
      figures.check(
        `${MEMORY_KIND} growth, round 1 → ${ROUNDS}`,
        `${kib(growth)} KiB (${kib(mem[0])} → ${kib(mem.at(-1)!)} KiB)`,
        `≤ ${kib(MEMORY_SLACK)} KiB`,
        growth <= MEMORY_SLACK,
      );
      await checkClean(figures, before, watch);
      figures.assertAll();
    },
  );
}
