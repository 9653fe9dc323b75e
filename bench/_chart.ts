/**
 * The results as an SVG bar chart, written by hand: one group of bars per
 * row, each candidate's median, ours beside the peer, scaled to the row's
 * largest median (rows have different units).
 *
 * @module
 */
import { formatValue, type Role, type RowResult } from "./_report.ts";

const WIDTH = 860;
const LABEL_X = 16;
const BAR_X = 290;
const BAR_MAX = 380;
const BAR_HEIGHT = 16;
const LINE = 22;
const COLORS: Record<Role, string> = {
  ours: "#2f6fdf",
  peer: "#9aa0a6",
  reference: "#e0a030",
};

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

function text(
  x: number,
  y: number,
  content: string,
  attrs = "",
): string {
  return `<text x="${x}" y="${y}"${attrs}>${escape(content)}</text>`;
}

/** Order within a row: by group as first seen, ours before the peer, references last. */
function ordered(row: RowResult): RowResult["candidates"] {
  const groups = [...new Set(row.candidates.map((c) => c.group))];
  const rank = { ours: 0, peer: 1, reference: 2 };
  return row.candidates.filter((c) => c.median !== null).sort((a, b) =>
    (a.role === "reference" ? 1 : 0) - (b.role === "reference" ? 1 : 0) ||
    groups.indexOf(a.group) - groups.indexOf(b.group) ||
    rank[a.role] - rank[b.role]
  );
}

/** The chart, headed by `caption` and then the lines of `about`. */
export function svgChart(
  rows: RowResult[],
  caption: string,
  about: string[],
): string {
  const parts: string[] = [];
  let y = 28;
  parts.push(text(LABEL_X, y, caption, ' class="caption"'));
  for (const line of about) {
    y += 17;
    parts.push(text(LABEL_X, y, line, ' class="muted"'));
  }
  y += 24;
  let x = LABEL_X;
  for (const role of ["ours", "peer", "reference"] as Role[]) {
    parts.push(
      `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${
        COLORS[role]
      }"/>`,
      text(x + 18, y, role),
    );
    x += 110;
  }
  parts.push(
    `<line x1="${x}" y1="${y - 11}" x2="${x}" y2="${y + 3}" class="target"/>`,
    text(x + 8, y, "target: least ours may be, as a share of the peer"),
  );
  y += 16;

  for (const row of rows) {
    y += 26;
    parts.push(
      text(
        LABEL_X,
        y,
        `${row.title} (${row.unit}${
          row.lowerIsBetter ? ", lower is better" : ""
        })`,
        ' class="row"',
      ),
    );
    y += 8;
    const bars = ordered(row);
    const max = Math.max(...bars.map((c) => c.median!), 0);
    const scale = (v: number) => max > 0 ? (v / max) * BAR_MAX : 0;
    for (const c of bars) {
      const top = y;
      const width = scale(c.median!);
      parts.push(
        text(LABEL_X, top + 12, `${c.label} (${c.group})`),
        `<rect class="bar" x="${BAR_X}" y="${top}" width="${
          width.toFixed(1)
        }" height="${BAR_HEIGHT}" fill="${COLORS[c.role]}"/>`,
      );
      const comparison = row.comparisons.find((k) =>
        k.ours === c.label && k.group === c.group
      );
      let value = `${formatValue(c.median!)} ${row.unit}`;
      if (comparison) value += `, ${comparison.ratio.toFixed(2)}× peer`;
      const peer = comparison &&
        row.candidates.find((p) =>
          p.label === comparison.peer && p.group === comparison.group
        );
      let end = BAR_X + width;
      if (comparison?.target !== undefined && peer?.median != null) {
        const tx = BAR_X + scale(peer.median * comparison.target);
        parts.push(
          `<line x1="${tx.toFixed(1)}" y1="${top - 3}" x2="${
            tx.toFixed(1)
          }" y2="${top + BAR_HEIGHT + 3}" class="target"/>`,
        );
        end = Math.max(end, tx);
      }
      parts.push(text(end + 6, top + 12, value, ' class="value"'));
      y += LINE;
    }
    for (const c of row.candidates.filter((c) => c.unavailable)) {
      parts.push(
        text(
          LABEL_X,
          y + 12,
          `${c.label} (${c.group}): not run: ${c.unavailable}`,
          ' class="muted"',
        ),
      );
      y += LINE;
    }
  }
  const height = y + 16;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">
<style>
  text { fill: #24292f; }
  .caption { font-size: 15px; font-weight: 600; }
  .row { font-weight: 600; }
  .muted { fill: #6e7781; }
  .value { font-variant-numeric: tabular-nums; }
  .target { stroke: #cf222e; stroke-width: 2; stroke-dasharray: 3 2; }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
${parts.join("\n")}
</svg>
`;
}
