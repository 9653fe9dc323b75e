/**
 * `resolveDns` against a real DNS server on loopback (dnsmasq, started and
 * stopped here): the records of every type in Deno's shapes, the same
 * records and errors as native Deno's `Deno.resolveDns` for every question
 * of `_dns_cases.ts`, aborting, time-outs, and no resource left behind.
 * Where dnsmasq is missing the server tests say so in one line and are
 * skipped, except in CI (`CI` set), where they fail.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import process from "node:process";
import { after, before, test } from "node:test";
import { installInto } from "../_polyfill.ts";
import { errors, resolveDns } from "../mod.ts";
import { resources } from "../ops/mod.ts";
import { dnsCases, DNSMASQ_RECORDS, runDnsCases, ZONE } from "./_dns_cases.ts";
import { type Dnsmasq, dnsmasqMissing, startDnsmasq } from "./_dnsmasq.ts";
import { DENO_BIN } from "./_oracle_client.ts";

const missing = dnsmasqMissing();
const inCi = Boolean(process.env.CI);
if (missing) {
  console.log(`dns: ${inCi ? "failing (CI)" : "skipped"}: ${missing}`);
}
/** Skipped only outside CI; in CI a missing server fails the tests below. */
const skip = missing && !inCi ? missing : false;

let server: Dnsmasq | undefined;
before(async () => {
  if (!missing) server = await startDnsmasq(DNSMASQ_RECORDS);
});
after(async () => {
  await server?.stop();
});

/** The running server's address; fails the test where there is none (CI without dnsmasq). */
function nameServer(): { ipAddr: string; port: number } {
  assert.ok(server, missing ?? "dnsmasq did not start");
  return server.nameServer;
}

const z = (name: string) => `${name}.${ZONE}`;

/** A record object as Deno makes one: with no prototype. */
const bare = <T extends object>(fields: T): T =>
  Object.assign(Object.create(null), fields);

test("records of every type, in Deno's shapes", { skip }, async () => {
  const ns = { nameServer: nameServer() };
  assert.deepEqual(await resolveDns(z("h"), "A", ns), ["10.1.2.3"]);
  assert.deepEqual(await resolveDns(z("h"), "AAAA", ns), ["fd00::1"]);
  assert.deepEqual(await resolveDns(z("c"), "CNAME", ns), [z("h") + "."]);
  assert.deepEqual(await resolveDns(z("mx"), "MX", ns), [
    bare({ preference: 20, exchange: z("mail2") + "." }),
    bare({ preference: 10, exchange: z("mail") + "." }),
  ]);
  assert.deepEqual(await resolveDns(z("t"), "TXT", ns), [[
    "v=spf1 -all",
    "second part",
  ]]);
  // Deno reads TXT bytes as Latin-1: UTF-8 "é" is two characters.
  assert.deepEqual(await resolveDns(z("latin"), "TXT", ns), [[
    "caf\u00c3\u00a9",
  ]]);
  assert.deepEqual(await resolveDns(`_sip._tcp.${ZONE}`, "SRV", ns), [
    bare({ priority: 10, weight: 5, port: 5060, target: z("sip") + "." }),
  ]);
  assert.deepEqual(await resolveDns("3.2.1.10.in-addr.arpa", "PTR", ns), [
    z("h") + ".",
  ]);
  assert.deepEqual(await resolveDns(z("n"), "NAPTR", ns), [bare({
    order: 100,
    preference: 10,
    flags: "S",
    services: "SIP+D2U",
    regexp: "",
    replacement: `_sip._udp.${ZONE}.`,
  })]);
  assert.deepEqual(await resolveDns(z("caa"), "CAA", ns), [
    bare({ critical: true, tag: "iodef", value: `mailto:security@${ZONE}` }),
    bare({ critical: false, tag: "issue", value: "letsencrypt.org" }),
  ]);
  assert.deepEqual(await resolveDns(ZONE, "SOA", ns), [bare({
    mname: z("ns") + ".",
    rname: z("hostmaster") + ".",
    serial: 2024010101,
    refresh: 7200,
    retry: 3600,
    expire: 1209600,
    minimum: 600,
  })]);
  assert.deepEqual(await resolveDns(ZONE, "NS", ns), [z("ns") + "."]);
  assert.deepEqual(await resolveDns(z("aname"), "ANAME", ns), [z("h") + "."]);
  await assert.rejects(resolveDns(z("h"), "ANAME", ns), errors.NotFound);
  await assert.rejects(resolveDns(z("nope"), "A", ns), {
    name: "NotFound",
    message:
      `proto error: no records found for Query { name: Name("nope.${ZONE}."), query_type: A, query_class: IN }`,
  });
  assert.deepEqual(resources(), {});
});

/** Native Deno's answers to every case, from a `deno run` child. */
function oracle(port: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(
      DENO_BIN,
      ["run", "-A", "--quiet", "tests/_dns_oracle.ts", String(port)],
      { timeout: 60_000 },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`the oracle failed: ${err.message}\n${stderr}`))
          : resolve(JSON.parse(stdout)),
    );
  });
}

test(
  "the same records and errors as native Deno, question by question",
  { skip, timeout: 90_000 },
  async () => {
    const { port } = nameServer();
    const [expected, actual] = await Promise.all([
      oracle(port),
      runDnsCases(resolveDns as never, port),
    ]);
    assert.deepEqual(Object.keys(expected), Object.keys(dnsCases));
    for (const label of Object.keys(dnsCases)) {
      // Through JSON, as the oracle's answers came.
      assert.deepEqual(
        JSON.parse(JSON.stringify(actual[label])),
        expected[label],
        label,
      );
    }
    assert.deepEqual(resources(), {});
  },
);

/** A UDP server on loopback that reads questions and never answers. */
async function blackHole(): Promise<Socket> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return socket;
}

test("an aborted signal rejects with its reason, before and during the question", async () => {
  const reason = new Error("mine");
  await assert.rejects(
    resolveDns("a.test", "A", { signal: AbortSignal.abort(reason) }),
    (err) => err === reason,
  );
  const hole = await blackHole();
  try {
    const controller = new AbortController();
    const pending = resolveDns("a.test", "A", {
      nameServer: { ipAddr: "127.0.0.1", port: hole.address().port },
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 50);
    const err = await pending.then(() => undefined, (e) => e);
    // The runtime's own reason (each words it its own way).
    assert.equal(err, controller.signal.reason);
    assert.equal((err as Error).name, "AbortError");
    assert.deepEqual(resources(), {});
  } finally {
    hole.close();
  }
});

test(
  "no answer in time is TimedOut, as Deno words it",
  { timeout: 20_000 },
  async () => {
    const hole = await blackHole();
    try {
      for (const recordType of ["A", "ANAME"] as const) {
        // With a signal, Deno's resolver waits one second, once.
        await assert.rejects(
          resolveDns("a.test", recordType, {
            nameServer: { ipAddr: "127.0.0.1", port: hole.address().port },
            signal: new AbortController().signal,
          }),
          (err) => {
            assert.ok(err instanceof errors.TimedOut);
            assert.equal(
              (err as Error).message,
              "proto error: request timed out",
            );
            return true;
          },
        );
      }
    } finally {
      hole.close();
    }
    assert.deepEqual(resources(), {});
  },
);

test("without dnsmasq the tests say what is missing and how to install it", () => {
  assert.equal(
    dnsmasqMissing([]),
    "dnsmasq not found: install it with `apt-get install dnsmasq-base` (Debian/Ubuntu, as root)",
  );
});

test("the polyfill puts resolveDns on a Deno it creates", () => {
  const scope: { Deno?: Record<string, unknown> } = {};
  const report = installInto(scope, false, false);
  assert.equal(scope.Deno?.resolveDns, resolveDns);
  assert.ok(report.installed.includes("resolveDns"));
});
