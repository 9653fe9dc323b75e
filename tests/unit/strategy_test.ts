/** The strategy policy and the settings, on a fake runtime: every input, no sockets. */
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { readSettings, workerEnv } from "../../core/settings.ts";
import { errors, setStrategy } from "../../mod.ts";
import { setListenHook } from "../../ops/hooks.ts";
import { chooseStrategy } from "../../ops/strategy.ts";
import { fakeRuntime } from "./_fakes.ts";

afterEach(() => setStrategy(undefined));

test("strategy: no sharing option is direct", () => {
  assert.equal(
    chooseStrategy(fakeRuntime(), false, undefined).strategy,
    "direct",
  );
  assert.equal(chooseStrategy(fakeRuntime(), false, false).strategy, "direct");
});

test("strategy: reusePort is kernel where the kernel balances, emulated elsewhere, with its reason", () => {
  const on = chooseStrategy(fakeRuntime({}, true), true, undefined);
  assert.deepEqual(on, { strategy: "kernel", reason: "fake kernel balances" });
  const off = chooseStrategy(fakeRuntime({}, false), true, undefined);
  assert.deepEqual(off, {
    strategy: "emulated",
    reason: "fake kernel does not",
  });
});

test("strategy: loadBalanced is emulated; in a runner's worker (its listen hook says so) it is on by default", () => {
  assert.equal(chooseStrategy(fakeRuntime(), false, true).strategy, "emulated");
  setListenHook({ loadBalanced: true, listened() {} });
  try {
    const worker = chooseStrategy(fakeRuntime(), false, undefined);
    assert.equal(worker.strategy, "emulated");
    assert.match(
      worker.reason,
      /on by default in the parallel runner's workers/,
    );
    const optedOut = chooseStrategy(fakeRuntime(), false, false);
    assert.equal(optedOut.strategy, "direct");
  } finally {
    setListenHook(undefined);
  }
  assert.equal(
    chooseStrategy(fakeRuntime(), false, undefined).strategy,
    "direct",
  );
});

test("strategy: REUSEPORT_STRATEGY forces, setStrategy() wins over it", () => {
  const env = fakeRuntime({ REUSEPORT_STRATEGY: "emulated" });
  assert.deepEqual(chooseStrategy(env, true, undefined), {
    strategy: "emulated",
    reason: "REUSEPORT_STRATEGY=emulated",
  });
  setStrategy("kernel");
  assert.equal(chooseStrategy(env, true, undefined).strategy, "kernel");
  setStrategy("auto");
  assert.equal(chooseStrategy(env, true, undefined).strategy, "kernel");
});

test("strategy: forcing kernel where it cannot work is NotSupported, not a silent fallback", () => {
  const rt = fakeRuntime({ REUSEPORT_STRATEGY: "kernel" }, false);
  assert.throws(() => chooseStrategy(rt, true, undefined), (err: Error) => {
    assert.ok(err instanceof errors.NotSupported);
    assert.match(
      err.message,
      /^REUSEPORT_STRATEGY=kernel: the kernel strategy cannot work here: fake kernel does not$/,
    );
    return true;
  });
});

test("settings: a bad REUSEPORT_STRATEGY or setStrategy() value is a TypeError naming it", () => {
  assert.throws(
    () =>
      readSettings((name) =>
        name === "REUSEPORT_STRATEGY" ? "fast" : undefined
      ),
    {
      name: "TypeError",
      message:
        'REUSEPORT_STRATEGY must be one of "auto", "kernel", "emulated": received "fast"',
    },
  );
  assert.throws(() => setStrategy("fast" as never), {
    name: "TypeError",
    message:
      'setStrategy() must be one of "auto", "kernel", "emulated": received "fast"',
  });
});

test("settings: what the runner sets is what a worker reads", () => {
  const env = workerEnv(3, 4, "/tmp/x/control.sock");
  assert.deepEqual(env, {
    REUSEPORT_WORKER: "3",
    REUSEPORT_WORKERS: "4",
    REUSEPORT_PRIMARY: "/tmp/x/control.sock",
  });
  const lookup: Record<string, string> = env;
  assert.deepEqual(readSettings((name) => lookup[name]), {
    strategy: undefined,
    primary: "/tmp/x/control.sock",
  });
  assert.equal(workerEnv(1, 1).REUSEPORT_PRIMARY, undefined);
});
