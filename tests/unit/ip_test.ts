/**
 * `core/ip.ts` answers as `node:net`'s `isIP` does (the checks it replaced,
 * so that Deno's path loads no `node:net`): the edge cases by name, then
 * strings drawn from a fixed-seed generator of near-addresses.
 */
import assert from "node:assert/strict";
import { isIP } from "node:net";
import { test } from "node:test";
import { ipFamily } from "../../core/ip.ts";

const EDGES = [
  "127.0.0.1",
  "0.0.0.0",
  "255.255.255.255",
  "256.0.0.1",
  "01.2.3.4",
  "1.2.3",
  "1.2.3.4.5",
  "",
  "::",
  "::1",
  "1::",
  "1:2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7::",
  "::2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7:8:9",
  "1::2::3",
  ":1::",
  ":::",
  "1:2:3:4:5:6:1.2.3.4",
  "::1.2.3.4",
  "::ffff:1.2.3.4",
  "1:2:3:4:5:6:7:1.2.3.4",
  "1.2.3.4::",
  "fe80::1%eth0",
  "fe80::1%",
  "fe80::1%a b",
  "::%1",
  "12345::",
  "g::1",
  "1:2:3:4:5:6::1.2.3.4",
  "1:2:3:4:5::1.2.3.4",
  "1:2",
  "1:",
  "[::1]",
  " ::1",
  "::1 ",
  "1.2.3.4%x",
  "::1.2.3",
  "::1.2.3.04",
  "localhost",
  "A:B:C:D:E:F:0:1",
  "1::1.2.3.4.5",
  "1:2:3:4:5:6:7:8%z",
  "::1:",
  ":1:2:3:4:5:6:7:8",
];

/** A small deterministic generator (xorshift), so a failure reproduces. */
function generator(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

test("ipFamily: the edge cases answer as node:net's isIP", () => {
  const wrong = EDGES.filter((s) => ipFamily(s) !== isIP(s));
  assert.deepEqual(wrong, []);
  assert.equal(ipFamily("127.0.0.1"), 4);
  assert.equal(ipFamily("fe80::1%eth0"), 6);
  assert.equal(ipFamily("localhost"), 0);
});

test("ipFamily: 100,000 generated near-addresses answer as node:net's isIP", () => {
  const random = generator(0x9e3779b9);
  const pick = (n: number): number => Math.floor(random() * n);
  const CHARS = "0123456789abcdefAF:.%";
  const wrong: string[] = [];
  let v6 = 0;
  for (let i = 0; i < 100_000; i++) {
    let s: string;
    if (i % 2) {
      s = Array.from({ length: 1 + pick(20) }, () => CHARS[pick(CHARS.length)])
        .join("");
    } else {
      s = Array.from(
        { length: 2 + pick(8) },
        () => random() < 0.2 ? "" : pick(0x11000).toString(16),
      ).join(":") + (random() < 0.2 ? `:1.2.3.${pick(300)}` : "");
    }
    if (isIP(s) === 6) v6++;
    if (ipFamily(s) !== isIP(s) && wrong.length < 10) wrong.push(s);
  }
  assert.deepEqual(wrong, []);
  // The generator reaches valid IPv6 literals, not only rejections.
  assert.ok(v6 > 1000, `only ${v6} valid IPv6 literals generated`);
});
