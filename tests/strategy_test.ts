/**
 * Which strategy a listener gets, why, and what forcing one does: by option,
 * by `setStrategy()`, by `REUSEPORT_STRATEGY`.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { afterEach, test } from "node:test";
import {
  connect,
  errors,
  listen,
  setStrategy,
  strategyFor,
  type TcpListener,
} from "../mod.ts";
import { connections } from "../ops/mod.ts";
import { modUrl, onBun, onDeno, runSnippet } from "./_child.ts";

/**
 * What the runtime running the tests can do, from documented facts: Node
 * 22.12 added `reusePort`; Deno binds with it through its Node layer; Bun's
 * `Bun.listen` takes it.
 */
function kernelExpected(): boolean {
  if (process.platform !== "linux") return false;
  if (onDeno || onBun) return true;
  const [major, minor] = process.versions.node.split(".").map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

const opts = { timeout: 20_000 };
afterEach(() => setStrategy(undefined));

/** Two `reusePort` listeners on one new port. */
function reusePortPair(): [TcpListener, TcpListener] {
  const a = listen({ hostname: "127.0.0.1", port: 0, reusePort: true });
  return [
    a,
    listen({ hostname: "127.0.0.1", port: a.addr.port, reusePort: true }),
  ];
}

/** Accepts one connection, answers with `tag`, closes. */
async function answerOnce(listener: TcpListener, tag: string): Promise<void> {
  const conn = await listener.accept();
  await conn.write(new TextEncoder().encode(tag));
  conn.close();
}

async function readTag(port: number): Promise<string> {
  const conn = await connect({ hostname: "127.0.0.1", port });
  const buf = new Uint8Array(8);
  const n = await conn.read(buf);
  conn.close();
  return new TextDecoder().decode(buf.subarray(0, n ?? 0));
}

test("no sharing option: direct", () => {
  assert.deepEqual(strategyFor({}), {
    strategy: "direct",
    reason: "neither reusePort nor loadBalanced",
  });
});

test("loadBalanced: emulated, whatever the kernel can do", () => {
  assert.equal(strategyFor({ loadBalanced: true }).strategy, "emulated");
});

test("reusePort: kernel exactly where the runtime binds with SO_REUSEPORT", () => {
  const { strategy, reason } = strategyFor({ reusePort: true });
  assert.equal(strategy, kernelExpected() ? "kernel" : "emulated");
  assert.match(reason, /SO_REUSEPORT/);
});

test(
  "setStrategy('emulated'): reusePort listeners share one socket",
  opts,
  async () => {
    setStrategy("emulated");
    const before = connections.size;
    const [a, b] = reusePortPair();
    try {
      assert.equal(connections.size, before + 1);
      const served = Promise.all([answerOnce(a, "a"), answerOnce(b, "b")]);
      const tags = [await readTag(a.addr.port), await readTag(a.addr.port)];
      await served;
      assert.deepEqual(tags.sort(), ["a", "b"]);
    } finally {
      a.close();
      b.close();
    }
    assert.equal(connections.size, before);
  },
);

test(
  "setStrategy('kernel'): own sockets where possible, NotSupported elsewhere",
  opts,
  () => {
    setStrategy("kernel");
    if (!kernelExpected()) {
      assert.throws(
        () => listen({ hostname: "127.0.0.1", port: 0, reusePort: true }),
        (err: Error) =>
          err instanceof errors.NotSupported &&
          /^setStrategy\(\): the kernel strategy cannot work here: /.test(
            err.message,
          ),
      );
      return;
    }
    const before = connections.size;
    const [a, b] = reusePortPair();
    assert.equal(b.addr.port, a.addr.port);
    assert.equal(
      connections.size,
      before,
      "no shared socket for kernel listeners",
    );
    a.close();
    b.close();
  },
);

test("a forced strategy leaves listeners without sharing options direct", () => {
  setStrategy("kernel");
  const a = listen({ hostname: "127.0.0.1", port: 0 });
  assert.throws(
    () => listen({ hostname: "127.0.0.1", port: a.addr.port }),
    errors.AddrInUse,
  );
  a.close();
});

test("setStrategy rejects an unknown setting, naming it", () => {
  assert.throws(
    // @ts-expect-error: not a setting
    () => setStrategy("fastest"),
    {
      name: "TypeError",
      message:
        'setStrategy() must be one of "auto", "kernel", "emulated": received "fastest"',
    },
  );
});

const probe = `
try {
  const l = listen({ hostname: "127.0.0.1", port: 0, reusePort: true });
  console.log("listening " + strategyFor({ reusePort: true }).strategy);
  l.close();
} catch (e) {
  console.log(e.name + ": " + e.message);
}`;

test(
  "REUSEPORT_STRATEGY=kernel: kernel, or NotSupported saying why",
  opts,
  async () => {
    const { stdout } = await runSnippet(probe, {
      REUSEPORT_STRATEGY: "kernel",
    });
    if (kernelExpected()) assert.equal(stdout.trim(), "listening kernel");
    else {
      assert.match(
        stdout,
        /^NotSupported: REUSEPORT_STRATEGY=kernel: the kernel strategy cannot work here: /,
      );
    }
  },
);

test("REUSEPORT_STRATEGY=emulated: emulated", opts, async () => {
  const { stdout } = await runSnippet(probe, {
    REUSEPORT_STRATEGY: "emulated",
  });
  assert.equal(stdout.trim(), "listening emulated");
});

test(
  "REUSEPORT_STRATEGY with a bad value: TypeError naming it",
  opts,
  async () => {
    const { stdout } = await runSnippet(probe, { REUSEPORT_STRATEGY: "turbo" });
    assert.equal(
      stdout.trim(),
      'TypeError: REUSEPORT_STRATEGY must be one of "auto", "kernel", "emulated": received "turbo"',
    );
  },
);

test(
  kernelExpected()
    ? "kernel: another process of this user joins the address"
    : "no kernel here: another process's reusePort listen on the address throws AddrInUse, as on a taken port",
  opts,
  async () => {
    const held = listen({ hostname: "127.0.0.1", port: 0, reusePort: true });
    const { stdout } = await runSnippet(`
try {
  const l = listen({ hostname: "127.0.0.1", port: ${held.addr.port}, reusePort: true });
  console.log(strategyFor({ reusePort: true }).strategy + " " + l.addr.port);
  l.close();
} catch (err) {
  console.log(err.name + ": " + err.message);
}`);
    held.close();
    assert.equal(
      stdout.trim(),
      kernelExpected()
        ? `kernel ${held.addr.port}`
        // Emulated sharing stops at the process: across processes it takes
        // the runner (reuseport serve --parallel).
        : "AddrInUse: Address already in use (os error 98)",
    );
  },
);

// Emulated, what a listener does not accept stays in the one shared socket,
// so the sibling gets it too; the kernel has to hand it over.
test(
  `${
    kernelExpected() ? "kernel" : "emulated (no kernel here)"
  }: a closing listener hands what it accepted to a sibling`,
  opts,
  async () => {
    const [a, b] = reusePortPair();
    const COUNT = 40;
    // Nobody accepts on `a`: what the kernel gives it waits there.
    const clients = await Promise.all(
      Array.from(
        { length: COUNT },
        () => connect({ hostname: "127.0.0.1", port: a.addr.port }),
      ),
    );
    await new Promise((r) => setTimeout(r, 200));
    a.close();
    const served = (async () => {
      for await (const conn of b) {
        await conn.write(new TextEncoder().encode("b"));
        conn.close();
      }
    })();
    const answers = await Promise.all(clients.map(async (c) => {
      const buf = new Uint8Array(1);
      try {
        return (await c.read(buf)) === 1 ? "b" : "eof";
      } catch (err) {
        return (err as Error).name;
      } finally {
        c.close();
      }
    }));
    b.close();
    await served;
    assert.deepEqual(answers, Array(COUNT).fill("b"));
  },
);

// Deno's Web Workers only: Node and Bun share across node:worker_threads,
// and tests/threads_test.ts asserts what each does there.
if (onDeno) {
  test(
    "Deno workers cannot join an emulated socket: AddrInUse says what to use",
    // The worker transpiles and loads the whole module graph first, which
    // took over 20 s once with the machine's cores shared by six runs.
    { timeout: 90_000 },
    async () => {
      const a = listen({ hostname: "127.0.0.1", port: 0, loadBalanced: true });
      const source = `
import { listen } from "${modUrl}";
try {
  listen({ hostname: "127.0.0.1", port: ${a.addr.port}, loadBalanced: true });
  postMessage("joined");
} catch (e) {
  postMessage(e.name + ": " + e.message);
}`;
      const WorkerClass = (globalThis as unknown as {
        Worker: new (url: string, o: { type: string }) => {
          onmessage: (e: { data: string }) => void;
          onerror: (e: { message: string; preventDefault(): void }) => void;
          terminate(): void;
        };
      }).Worker;
      const worker = new WorkerClass(
        `data:application/javascript,${encodeURIComponent(source)}`,
        { type: "module" },
      );
      // A worker that fails to load says so, instead of the test timing out.
      const answer = await new Promise<string>((resolve, reject) => {
        worker.onmessage = (e) => resolve(e.data);
        worker.onerror = (e) => {
          e.preventDefault();
          reject(new Error(`worker failed: ${e.message}`));
        };
      }).finally(() => {
        worker.terminate();
        a.close();
      });
      assert.match(
        answer,
        /^AddrInUse: .*another worker thread of this process.*deno serve --parallel/,
      );
    },
  );
}
