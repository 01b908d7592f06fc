/**
 * Line charts as a standalone SVG, written by a benchmark from its own numbers: a row of panels,
 * each with its axes, ticks, one polyline per series with a marker at every point, and a legend.
 * Plain text in, plain text out; no plotting dependency, and the file diffs like any other.
 */

export interface Series {
  name: string;
  /** [x, y] pairs; a NaN y (not measured) leaves a gap. */
  points: [number, number][];
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** A logarithmic x axis (host counts that grow by factors); ticks at the data's x values. */
  logX?: boolean;
}

const W = 380;
const H = 280;
const M = { left: 58, right: 14, top: 30, bottom: 44 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** The panels under one title, `columns` to a row. */
export function svgChart(title: string, panels: Panel[], columns = panels.length): string {
  const rows = Math.ceil(panels.length / columns);
  const width = W * Math.min(columns, panels.length);
  const height = H * rows + 34;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
    ...panels.map((p, i) => `<g transform="translate(${(i % columns) * W},${34 + Math.floor(i / columns) * H})">${panel(p)}</g>`),
    '</svg>',
    '',
  ].join('\n');
}

function panel(p: Panel): string {
  const all = p.series.flatMap((s) => s.points.filter(([, y]) => Number.isFinite(y)));
  const xs = [...new Set(all.map(([x]) => x))].sort((a, b) => a - b);
  const yMax = niceCeil(Math.max(1, ...all.map(([, y]) => y)));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const [x0, x1] = [xs[0] ?? 0, xs[xs.length - 1] ?? 1];
  const fx = (x: number) => {
    if (x1 === x0) return M.left + pw / 2;
    const t = p.logX ? Math.log(x / x0) / Math.log(x1 / x0) : (x - x0) / (x1 - x0);
    return M.left + t * pw;
  };
  const fy = (y: number) => M.top + ph - (y / yMax) * ph;
  const out: string[] = [`<text x="${W / 2}" y="16" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`];
  for (const t of yTicks(yMax)) {
    out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${r(fy(t))}" y2="${r(fy(t))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 5}" y="${r(fy(t) + 4)}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const x of xs) out.push(`<text x="${r(fx(x))}" y="${M.top + ph + 15}" text-anchor="middle">${fmt(x)}</text>`);
  out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${M.top + ph}" y2="${M.top + ph}" stroke="#333"/>`);
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + ph}" stroke="#333"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 8}" text-anchor="middle">${esc(p.xLabel)}</text>`);
  out.push(`<text transform="translate(14,${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(p.yLabel)}</text>`);
  p.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    // A NaN starts a new run of the line, so an unmeasured point is a gap, not a drop to zero.
    const runs: [number, number][][] = [[]];
    for (const pt of s.points) {
      if (Number.isFinite(pt[1])) runs[runs.length - 1]?.push(pt);
      else runs.push([]);
    }
    for (const run of runs.filter((x) => x.length > 1)) {
      const d = run.map(([x, y]) => `${r(fx(x))},${r(fy(y))}`).join(' ');
      out.push(`<polyline points="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    for (const [x, y] of s.points.filter(([, y]) => Number.isFinite(y))) {
      out.push(
        `<circle cx="${r(fx(x))}" cy="${r(fy(y))}" r="3" fill="${color}"><title>${esc(`${s.name}: ${fmt(y)} at ${fmt(x)}`)}</title></circle>`,
      );
    }
    const ly = M.top + 6 + i * 15;
    out.push(`<line x1="${M.left + 10}" x2="${M.left + 28}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${M.left + 33}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

/** The smallest 1, 2 or 5 × 10^k at or above `v`: the top of the y axis. */
export function niceCeil(v: number): number {
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

/** Five gridlines from zero to the top (which niceCeil made a round number). */
function yTicks(top: number): number[] {
  return [0, 1, 2, 3, 4, 5].map((i) => (top * i) / 5);
}

function fmt(v: number): string {
  if (Math.abs(v) >= 1000) return `${Number((v / 1000).toPrecision(3))}k`;
  return String(Number(v.toPrecision(3)));
}

function r(v: number): string {
  return v.toFixed(1);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
