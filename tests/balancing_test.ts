/**
 * How listeners sharing one address split connections, per strategy:
 * fairness over 1,000 connections, and closing one listener under load.
 * The emulated strategy promises turns and no lost connection, so those are
 * asserted; the kernel's hash spread and its close are reported, and only
 * what it must do (each connection accepted once, serving goes on) asserted.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { errors, strategyFor } from "../mod.ts";
import {
  closeUnderLoad,
  fairness,
  listenGroup,
  strategyHere,
} from "../tools/balancing.ts";

const opts = { timeout: 60_000 };

/**
 * Whether the kernel balances here (Node 20 cannot bind with SO_REUSEPORT):
 * its tests run where it does; elsewhere one test asserts what forcing it
 * does instead.
 */
const kernel = strategyHere("kernel");

test(
  "fairness, emulated: 1,000 connections to 4 listeners, each within ±10 % of the mean",
  opts,
  async (t) => {
    const { counts, spreadPct, exactlyOnce } = await fairness("emulated");
    t.diagnostic(
      `emulated: ${counts.join(" / ")} (±${spreadPct.toFixed(1)} %)`,
    );
    assert.equal(exactlyOnce, 1000);
    for (const count of counts) {
      assert.ok(
        Math.abs(count - 250) <= 25,
        `counts ${
          counts.join(", ")
        }: ${count} is off the mean 250 by more than 10 %`,
      );
    }
  },
);

test(
  "close under load, emulated: closing one of 2 listeners refuses and resets nothing",
  opts,
  async (t) => {
    const r = await closeUnderLoad("emulated");
    t.diagnostic(`emulated: ${JSON.stringify(r)}`);
    assert.equal(r.refused, 0, "refused connections");
    assert.equal(r.reset, 0, "reset connections");
    assert.deepEqual(r.other, {});
    assert.equal(r.served, r.attempts);
    assert.ok(r.perListener[0] > 0, "the first listener served before closing");
    assert.ok(r.afterClose > 0, "the second listener served after the close");
  },
);

if (kernel.ok) {
  test(
    "fairness, kernel: 1,000 connections to 4 listeners, each accepted exactly once",
    opts,
    async (t) => {
      const { counts, spreadPct, exactlyOnce, wrong } = await fairness(
        "kernel",
      );
      t.diagnostic(
        `kernel: ${counts.join(" / ")} (±${spreadPct.toFixed(1)} %)`,
      );
      assert.equal(wrong, 0, `${wrong} connections not accepted exactly once`);
      assert.equal(exactlyOnce, 1000);
      assert.equal(counts.reduce((a, b) => a + b, 0), 1000);
    },
  );

  test(
    "close under load, kernel: the remaining listener goes on serving (losses reported)",
    opts,
    async (t) => {
      const r = await closeUnderLoad("kernel");
      t.diagnostic(
        `kernel: ${r.refused} refused, ${r.reset} reset of ${r.attempts}: ${
          JSON.stringify(r)
        }`,
      );
      assert.deepEqual(r.other, {});
      assert.equal(r.served + r.refused + r.reset, r.attempts);
      assert.ok(
        r.perListener[0] > 0,
        "the first listener served before closing",
      );
      assert.ok(r.afterClose > 0, "the second listener served after the close");
    },
  );
} else {
  test(
    "kernel strategy not here: forcing it throws NotSupported saying why; reusePort alone shares one socket (emulated)",
    () => {
      // With no strategy forced, reusePort falls back to the emulated one,
      // and its reason is why the kernel cannot balance here.
      const auto = strategyFor({ reusePort: true });
      assert.equal(auto.strategy, "emulated");
      assert.match(auto.reason, /SO_REUSEPORT/);
      assert.throws(() => listenGroup("kernel", 2), (err: Error) => {
        assert.ok(err instanceof errors.NotSupported);
        assert.equal(err.name, "NotSupported");
        assert.equal(
          err.message,
          `setStrategy(): the kernel strategy cannot work here: ${auto.reason}`,
        );
        return true;
      });
      const group = listenGroup("emulated", 2);
      assert.equal(group[1].addr.port, group[0].addr.port);
      for (const listener of group) listener.close();
    },
  );
}
