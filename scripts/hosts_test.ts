/**
 * A short run of `scripts/hosts.ts` (run by `npm test` as a step of its own):
 * two stand-in hosts in network namespaces behind HAProxy. Skipped, with the
 * reason, where it cannot run (not root, no `ip netns`, no `haproxy`, no npm
 * build). Traffic stays on loopback and on the veths the run makes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { haproxyConfig } from "./_haproxy.ts";
import { hostsMissing, type HostsResult, runHosts } from "./_hosts_run.ts";
import { alive, leftovers, pidsIn } from "./_netns.ts";
import { ROOT } from "./runtimes.ts";

const missing = await hostsMissing();
if (missing.length) {
  console.log(`hosts: skipped: ${missing.join("; ")}`);
}

/** Longer than a short run takes on a busy machine; then it is torn down. */
const LIMIT_MS = 120_000;

Deno.test({
  name: "two hosts behind HAProxy: reload of A, kill and restart of B",
  ignore: missing.length > 0,
  async fn(t) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result: HostsResult = await Promise.race([
      runHosts({ seconds: 2, concurrency: 8, restartA: false }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the run took over ${LIMIT_MS} ms`)),
          LIMIT_MS,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    const [steady, reload, kill] = result.phases;

    await t.step("every host and every worker served connections", () => {
      assert.equal(steady.outcome.served > 0, true);
      for (const host of ["a", "b"]) {
        assert.equal(steady.byHost[host] > 0, true, `host ${host}: none`);
        for (let worker = 1; worker <= 2; worker++) {
          const row = result.table.find((r) =>
            r.host === host && r.worker === String(worker)
          );
          assert.equal(
            (row?.total ?? 0) > 0,
            true,
            `host ${host} worker ${worker} served nothing`,
          );
        }
      }
      assert.deepEqual(steady.failures, [], "steady load: failures");
    });

    await t.step("HAProxy took B out and put it back", () => {
      const { downMs, upAfterListeningMs } = result.detection;
      const c = result.checks;
      assert.notEqual(downMs, undefined, "B never marked down");
      assert.notEqual(upAfterListeningMs, undefined, "B never marked up");
      // Generous bounds that only a wrong configuration breaks: the checks
      // alone take B out within inter + (fall - 1) * fastinter, and put it
      // back within rise * downinter, plus a check's own time.
      assert.equal(
        downMs! <= c.inter + c.fall * c.fastinter + c.connectTimeout + 1000,
        true,
        `down after ${downMs} ms`,
      );
      assert.equal(
        upAfterListeningMs! <= (c.rise + 1) * c.downinter + 1000,
        true,
        `up after ${upAfterListeningMs} ms`,
      );
      const b = result.stats.find((s) => s.server === "b");
      assert.equal(b?.status, "UP");
      assert.equal((b?.downs ?? 0) >= 1, true, "HAProxy counts no down of B");
      const marks = kill.marks.map((m) => m.what);
      const order = [
        marks.findIndex((m) => m.startsWith("SIGKILL")),
        marks.indexOf("haproxy: B marked DOWN"),
        marks.indexOf("host B listening"),
        marks.indexOf("haproxy: B marked UP"),
      ];
      assert.deepEqual([...order].sort((x, y) => x - y), order);
      assert.equal(order[0] >= 0, true);
    });

    await t.step("no client failed outside B's kill window", () => {
      assert.equal(kill.outsideWindow, 0, JSON.stringify(kill.failures));
      // The ones inside were open on B when it was killed: connections
      // opened after HAProxy marked it down all succeeded.
      const down = kill.marks.find((m) => m.what === "haproxy: B marked DOWN");
      assert.equal(
        kill.failures.every((f) => f.opened <= down!.at),
        true,
        JSON.stringify(kill.failures),
      );
      assert.equal(kill.byHost.a > 0 && kill.byHost.b > 0, true);
    });

    await t.step("host A's rolling reload: no client failed", () => {
      assert.deepEqual(reload.failures, []);
    });

    await t.step("teardown left no namespace, link or process", async () => {
      assert.deepEqual(result.leftover, []);
      assert.deepEqual(
        await leftovers(
          new RegExp(`^(reuseport-hosts-${Deno.pid}-|rph${Deno.pid})`),
        ),
        [],
      );
      assert.equal(result.pids.length > 0, true);
    });
  },
});

Deno.test({
  name: "a run that fails tears down what it made",
  ignore: missing.length > 0,
  async fn() {
    const lines: string[] = [];
    await assert.rejects(
      runHosts({ node: "/nonexistent/node", log: (l) => lines.push(l) }),
      /not listening and its runner exited/,
    );
    const dir = lines.find((l) => l.startsWith("files in "))?.slice(9);
    assert.ok(dir, lines.join("\n"));
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
    assert.deepEqual(
      await leftovers(
        new RegExp(`^(reuseport-hosts-${Deno.pid}-|rph${Deno.pid})`),
      ),
      [],
    );
  },
});

Deno.test({
  name: "Ctrl-C under load tears everything down",
  ignore: missing.length > 0,
  async fn() {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/hosts.ts", "--seconds=2", "--no-restart-a"],
      cwd: ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const seen: string[] = [];
    const reader = child.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    // Until the load of the first phase after the steady one is running.
    let text = "";
    while (!text.includes("SIGHUP to host A")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    seen.push(...text.split("\n"));
    const ns = `reuseport-hosts-${child.pid}-`;
    const pids = [
      ...await pidsIn(`${ns}a`),
      ...await pidsIn(`${ns}b`),
      Number(/^haproxy (\d+) on/m.exec(text)?.[1]),
    ];
    const dir = /^files in (\S+)/m.exec(text)?.[1];
    child.kill("SIGINT");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      seen.push(value);
    }
    const { code } = await child.status;
    clearTimeout(killer);
    assert.equal(code, 130, seen.join("\n"));
    assert.ok(dir && pids.length > 3, seen.join("\n"));
    assert.deepEqual(pids.filter(alive), []);
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
    assert.deepEqual(
      await leftovers(new RegExp(`^(${ns}|rph${child.pid})`)),
      [],
    );
  },
});

Deno.test("docs/HOSTS.md's HAProxy configuration is the one the run tests", async () => {
  const doc = await Deno.readTextFile(join(ROOT, "docs", "HOSTS.md"));
  const block = /This is the\s+configuration it tests[^]*?```\n([^]*?)```/
    .exec(doc)?.[1];
  assert.ok(block, "no configuration block in docs/HOSTS.md");
  const tested = haproxyConfig(80, [], "/run/haproxy/admin.sock")
    .split("\n").map((l) => l.trim());
  // Addresses are the reader's own: `bind` and `server` lines may differ.
  const lines = block.split("\n").map((l) => l.trim())
    .filter((l) => l && !/^(bind|server) /.test(l));
  for (const line of lines) {
    assert.ok(
      tested.includes(line),
      `not in the tested configuration: ${line}`,
    );
  }
  assert.ok(lines.some((l) => l.startsWith("default-server check")));
});
