// SVG line charts of a soak run, one panel per series over the run's time, rendered to PNG by sharp.
import sharp from 'sharp';

export interface Series {
  readonly title: string;
  readonly unit: string;
  /** [seconds since start, value]; NaN values leave a gap. */
  readonly points: readonly (readonly [number, number])[];
}

const width = 900;
const panelHeight = 170;
const left = 70;
const right = 20;
const top = 28;
const bottom = 30;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toPrecision(3));

function panel(s: Series, y0: number, tMax: number): string {
  const values = s.points.map(([, v]) => v).filter(Number.isFinite);
  // A panel of zeros (no drops) gets the axis 0..1, not 0..1e-9.
  const vMax = Math.max(...values, 0) > 0 ? Math.max(...values) : 1;
  const vMin = Math.min(0, ...values);
  const h = panelHeight - top - bottom;
  const w = width - left - right;
  const x = (t: number) => left + (tMax > 0 ? (t / tMax) * w : 0);
  const y = (v: number) => y0 + top + h - ((v - vMin) / (vMax - vMin)) * h;
  // Gaps (NaN) split the line into runs.
  const runs: string[] = [];
  let run: string[] = [];
  for (const [t, v] of s.points) {
    if (Number.isFinite(v)) run.push(`${x(t).toFixed(1)},${y(v).toFixed(1)}`);
    else if (run.length) {
      runs.push(run.join(' '));
      run = [];
    }
  }
  if (run.length) runs.push(run.join(' '));
  const grid = [0, 0.5, 1].map((f) => {
    const v = vMin + f * (vMax - vMin);
    return `<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${fmt(v)}</text>`;
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map(
    (f) => `<text x="${x(f * tMax)}" y="${y0 + panelHeight - 10}" text-anchor="middle" font-size="11">${fmt(f * tMax)} s</text>`,
  );
  return [
    `<text x="${left}" y="${y0 + 18}" font-size="13" font-weight="bold">${esc(s.title)} (${esc(s.unit)})</text>`,
    ...grid,
    ...ticks,
    `<line x1="${left}" x2="${left}" y1="${y0 + top}" y2="${y0 + top + h}" stroke="#999"/>`,
    ...runs.map((p) => `<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${p}"/>`),
    ...s.points
      .filter(([, v]) => Number.isFinite(v))
      .map(([t, v]) => `<circle cx="${x(t).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2" fill="#1f77b4"/>`),
  ].join('\n');
}

/** One panel per series, stacked, sharing the time axis; a title line on top. */
export function soakChartSvg(title: string, series: readonly Series[]): string {
  const tMax = Math.max(0, ...series.flatMap((s) => s.points.map(([t]) => t)));
  const height = 30 + series.length * panelHeight;
  const panels = series.map((s, i) => panel(s, 30 + i * panelHeight, tMax));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14">${esc(title)}</text>`,
    ...panels,
    '</svg>',
  ].join('\n');
}

export async function writeSoakChart(path: string, title: string, series: readonly Series[]): Promise<void> {
  await sharp(Buffer.from(soakChartSvg(title, series)))
    .png()
    .toFile(path);
}
