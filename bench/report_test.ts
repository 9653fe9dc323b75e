/**
 * The bench's arithmetic and output on fixed samples: medians, ratios paired
 * by round, per-worker shares, the Markdown table and the SVG bars. No
 * timings are measured here.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type CandidateSpec,
  markdownTable,
  median,
  type RowSpec,
  type Sample,
  summarize,
  svgChart,
} from "./_report.ts";

const opts = { timeout: 5_000 };

const ROW: RowSpec = {
  id: "keepalive",
  title: "1. Keep-alive",
  unit: "req/s",
  target: 0.9,
  note: "a note",
};

function run(spec: CandidateSpec, values: number[], workers?: number[][]) {
  const samples: Sample[] = values.map((value, i) => ({
    value,
    ...(workers ? { workers: workers[i] } : {}),
  }));
  return { spec, samples };
}

test(
  "median: middle value, mean of the middle two, error on none",
  opts,
  () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.throws(() => median([]), RangeError);
  },
);

test("summarize pairs ours with its group's peer round by round", opts, () => {
  const result = summarize(ROW, [
    run({ label: "ours", group: "Node", role: "ours" }, [10, 30, 20]),
    run({ label: "net", group: "Node", role: "peer" }, [40, 20, 10]),
    run({ label: "ours", group: "Deno", role: "ours" }, [9, 9, 9]),
    run({ label: "native", group: "Deno", role: "peer" }, [10, 10, 10]),
    run({ label: "nginx", group: "nginx", role: "reference" }, [50, 70, 60]),
    run({
      label: "gone",
      group: "Deno",
      role: "peer",
      unavailable: "not installed",
    }, []),
  ]);
  assert.deepEqual(
    result.candidates.map((c) => c.median),
    [20, 20, 9, 10, 60, null],
  );
  const [node, deno] = result.comparisons;
  assert.equal(result.comparisons.length, 2);
  // Per-round ratios 0.25, 1.5, 2: their median is not the ratio of medians.
  assert.deepEqual(node.ratios, [0.25, 1.5, 2]);
  assert.equal(node.ratio, 1.5);
  assert.equal(node.ratioOfMedians, 1);
  assert.equal(node.met, true);
  assert.deepEqual(
    [deno.group, deno.ours, deno.peer, deno.ratio, deno.met],
    ["Deno", "ours", "native", 0.9, true],
  );
});

test(
  "summarize pairs ours with the peer it names, where its group has two",
  opts,
  () => {
    const result = summarize(ROW, [
      run({ label: "ours rw", group: "Deno", role: "ours" }, [10, 10]),
      run({ label: "ours pipe", group: "Deno", role: "ours", peer: "pipe" }, [
        6,
        6,
      ]),
      run({ label: "rw", group: "Deno", role: "peer" }, [10, 10]),
      run({ label: "pipe", group: "Deno", role: "peer" }, [5, 5]),
    ]);
    assert.deepEqual(
      result.comparisons.map((c) => [c.ours, c.peer, c.ratio]),
      [["ours rw", "rw", 1], ["ours pipe", "pipe", 1.2]],
    );
  },
);

test("summarize sets no target where the row has none", opts, () => {
  const { comparisons } = summarize({ ...ROW, target: undefined }, [
    run({ label: "ours", group: "Node", role: "ours" }, [1]),
    run({ label: "net", group: "Node", role: "peer" }, [2]),
  ]);
  assert.equal(comparisons[0].ratio, 0.5);
  assert.equal("target" in comparisons[0], false);
  assert.equal("met" in comparisons[0], false);
});

test(
  "a lower-is-better row meets its target at or below it, and the table says so",
  opts,
  () => {
    const memory = { ...ROW, unit: "KiB", lowerIsBetter: true, target: 1.2 };
    const result = summarize(memory, [
      run({ label: "ours", group: "Node", role: "ours" }, [6, 6.6]),
      run({ label: "net", group: "Node", role: "peer" }, [5, 5]),
      run({ label: "ours", group: "Bun", role: "ours" }, [6.5, 6.5]),
      run({ label: "net", group: "Bun", role: "peer" }, [5, 5]),
    ]);
    const [node, bun] = result.comparisons;
    // Per-round ratios 1.2 and 1.32: their median, 1.26, is above the target.
    assert.deepEqual([node.ratio, node.met], [1.26, false]);
    assert.deepEqual([bun.ratio, bun.met], [1.3, false]);
    const met = summarize(memory, [
      run({ label: "ours", group: "Node", role: "ours" }, [6]),
      run({ label: "net", group: "Node", role: "peer" }, [5]),
    ]);
    assert.equal(met.comparisons[0].met, true);
    const table = markdownTable([result, met]);
    assert.match(table, /≤ 1\.2 ✗ above/);
    assert.match(table, /≤ 1\.2 ✓/);
    assert.doesNotMatch(table, /≥/);
  },
);

test("summarize gives each worker's share over all rounds", opts, () => {
  const result = summarize(ROW, [
    run({ label: "ours", group: "2 workers", role: "ours" }, [1, 1, 1], [
      [30, 10],
      [10, 30],
      [20, 20],
    ]),
    run({ label: "cluster", group: "2 workers", role: "peer" }, [1, 1], [
      [75, 25],
      [75, 25],
    ]),
  ]);
  const { candidates } = result;
  assert.deepEqual(candidates[0].shares, [0.5, 0.5]);
  assert.deepEqual(candidates[1].shares, [0.75, 0.25]);
  assert.equal(candidates[1].workers?.length, 2);
  assert.match(
    markdownTable([result]),
    /\| per worker: 50\/50 % vs 75\/25 % \|/,
  );
});

test(
  "markdownTable: one line per comparison, reference and skipped candidate",
  opts,
  () => {
    const table = markdownTable([
      summarize(ROW, [
        run({ label: "ours", group: "Node 20", role: "ours" }, [1000, 1200]),
        run({ label: "node:net", group: "Node 20", role: "peer" }, [
          2000,
          1000,
        ]),
        run({ label: "nginx", group: "nginx 1.22", role: "reference" }, [5000]),
        run({
          label: "emulated",
          group: "Node 20",
          role: "ours",
          unavailable: "not written yet",
        }, []),
      ]),
    ]);
    const lines = table.split("\n");
    assert.equal(
      lines[2],
      "| **1. Keep-alive** (req/s) | Node 20 | ours | 1,100 | node:net | 1,500 | 0.85 | ≥ 0.9 ✗ below |  |",
    );
    assert.equal(
      lines[3],
      "|  | nginx 1.22 |  |  | nginx | 5,000 |  |  | reference |",
    );
    assert.equal(
      lines[4],
      "|  | Node 20 | emulated | not run |  |  |  |  | not writ" +
        "ten yet |",
    );
    assert.equal(lines[6], "- **1. Keep-alive**: a note");
  },
);

test(
  "svgChart scales bars to the row's largest median and escapes text",
  opts,
  () => {
    const svg = svgChart(
      [
        summarize({ ...ROW, title: "a <row> & more" }, [
          run({ label: "ours", group: "Node", role: "ours" }, [50]),
          run({ label: "net", group: "Node", role: "peer" }, [200]),
        ]),
      ],
      "caption",
      ["about"],
    );
    const widths = [
      ...svg.matchAll(/<rect class="bar" x="\d+" y="\d+" width="([\d.]+)"/g),
    ]
      .map((m) => Number(m[1]));
    assert.deepEqual(widths, [95, 380]);
    assert.match(svg, /a &lt;row&gt; &amp; more/);
    assert.match(svg, /0\.25× peer/);
    assert.doesNotMatch(svg, /<row>/);
  },
);

test(
  "datagram rows: the lost share is kept per round, its median shown beside the rates",
  opts,
  () => {
    const lossy = (value: number, loss: number): Sample => ({ value, loss });
    const result = summarize(
      { ...ROW, id: "udp-receive", unit: "datagrams/s" },
      [
        {
          spec: { label: "ours", group: "Node", role: "ours" },
          samples: [lossy(90, 0.3), lossy(100, 0.2), lossy(80, 0.4)],
        },
        {
          spec: { label: "node:dgram", group: "Node", role: "peer" },
          samples: [lossy(100, 0.25), lossy(100, 0.25), lossy(100, 0.1)],
        },
        {
          spec: { label: "other", group: "Node", role: "reference" },
          samples: [lossy(50, 0.5)],
        },
      ],
    );
    const [ours, peer, other] = result.candidates;
    assert.equal(other.loss, 0.5);
    assert.deepEqual(ours.losses, [0.3, 0.2, 0.4]);
    assert.equal(ours.loss, 0.3);
    assert.equal(peer.loss, 0.25);
    assert.equal(result.comparisons[0].ratio, 0.9);
    const table = markdownTable([result]);
    assert.match(table, /lost: 30\.0 % vs 25\.0 %/);
    assert.match(table, /reference; lost: 50\.0 %/);
    // Rows without losses keep no loss fields.
    const plain = summarize(ROW, [
      run({ label: "a", group: "g", role: "ours" }, [1]),
    ]);
    assert.equal(plain.candidates[0].loss, undefined);
    assert.equal("losses" in plain.candidates[0], false);
  },
);
