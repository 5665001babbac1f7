/**
 * The latency-against-throughput chart of the peers comparison, as a
 * hand-written SVG (no charting dependency): p99 delivery latency against the
 * rate achieved, one line per system, both axes logarithmic (rates span 20x
 * and latencies from a millisecond to seconds once a system falls behind).
 * A pure function of its points: the same run draws the same bytes.
 *
 * Each system is a <g class="series" data-system="..."> holding a polyline
 * and one <circle data-rate data-achieved data-p99> per point, so tests (and
 * curious readers) can read the data back from the file.
 */

import type { LatencyPoint } from './peers-figures.js';

export interface ChartSeries {
  name: string;
  points: readonly LatencyPoint[];
}

export interface ChartOptions {
  title: string;
  /** Lines under the chart: the run it shows, how it was measured. */
  caption: readonly string[];
  /** A dashed horizontal line, e.g. the issue's p99 target. */
  targetP99Ms?: { valueMs: number; label: string };
}

const WIDTH = 760;
const HEIGHT = 480;
const MARGIN = { top: 48, right: 180, bottom: 92, left: 72 } as const;
const CAPTION_LINE_PX = 15;
const PLOT_WIDTH = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_HEIGHT = HEIGHT - MARGIN.top - MARGIN.bottom;
/** Colour-blind-safe (Okabe-Ito), in series order; repeats past eight series. */
const COLOURS = ['#0072B2', '#56B4E9', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#F0E442', '#000000'];
const FONT = 'font-family="sans-serif" font-size="12"';

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

const STEPS = [1, 2, 5] as const;

/** The largest 1, 2 or 5 x 10^k at or under `value`. */
function niceFloor(value: number): number {
  const decade = 10 ** Math.floor(Math.log10(value));
  return decade * ([...STEPS].reverse().find((step) => decade * step <= value * (1 + 1e-9)) ?? 1);
}

/** The smallest 1, 2 or 5 x 10^k at or over `value`. */
function niceCeil(value: number): number {
  const decade = 10 ** Math.floor(Math.log10(value));
  const step = STEPS.find((candidate) => decade * candidate >= value * (1 - 1e-9));
  return step === undefined ? decade * 10 : decade * step;
}

/** 1-2-5 bounds covering [min, max], never narrower than a factor of 10 (log axes need room). */
export function logDomain(values: readonly number[]): [low: number, high: number] {
  const positive = values.filter((value) => value > 0 && Number.isFinite(value));
  if (positive.length === 0) return [1, 10];
  const low = niceFloor(Math.min(...positive));
  const high = niceCeil(Math.max(...positive));
  return [low, high >= low * 10 ? high : niceCeil(low * 10)];
}

function logScale([low, high]: [number, number], pixels: number, inverted: boolean): (value: number) => number {
  const span = Math.log10(high) - Math.log10(low);
  return (value) => {
    const fraction = (Math.log10(Math.max(value, low)) - Math.log10(low)) / span;
    return (inverted ? 1 - fraction : fraction) * pixels;
  };
}

/** 1, 2 and 5 times each decade, inside the domain. */
function ticks([low, high]: [number, number]): number[] {
  const values: number[] = [];
  for (let decade = 10 ** Math.floor(Math.log10(low)); decade <= high; decade *= 10) {
    for (const step of STEPS) {
      const tick = decade * step;
      if (tick >= low * (1 - 1e-9) && tick <= high * (1 + 1e-9)) values.push(tick);
    }
  }
  return values;
}

function tickLabel(value: number): string {
  if (value >= 1000) return `${value / 1000}k`;
  return value >= 1 ? String(value) : value.toPrecision(1);
}

const px = (value: number): string => value.toFixed(1);

export function latencyThroughputSvg(series: readonly ChartSeries[], options: ChartOptions): string {
  const allPoints = series.flatMap((each) => each.points);
  const xDomain = logDomain(allPoints.map((point) => point.achievedPerSecond));
  const yDomain = logDomain([...allPoints.map((point) => point.p99Ms), ...(options.targetP99Ms === undefined ? [] : [options.targetP99Ms.valueMs])]);
  const x = logScale(xDomain, PLOT_WIDTH, false);
  const y = logScale(yDomain, PLOT_HEIGHT, true);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-family="sans-serif" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
    `<g transform="translate(${MARGIN.left},${MARGIN.top})">`,
  ];
  for (const tick of ticks(xDomain)) {
    out.push(`<line x1="${px(x(tick))}" y1="0" x2="${px(x(tick))}" y2="${PLOT_HEIGHT}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${px(x(tick))}" y="${PLOT_HEIGHT + 16}" text-anchor="middle" ${FONT}>${tickLabel(tick)}</text>`);
  }
  for (const tick of ticks(yDomain)) {
    out.push(`<line x1="0" y1="${px(y(tick))}" x2="${PLOT_WIDTH}" y2="${px(y(tick))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="-6" y="${px(y(tick) + 4)}" text-anchor="end" ${FONT}>${tickLabel(tick)}</text>`);
  }
  out.push(`<rect width="${PLOT_WIDTH}" height="${PLOT_HEIGHT}" fill="none" stroke="#444444"/>`);
  out.push(`<text x="${PLOT_WIDTH / 2}" y="${PLOT_HEIGHT + 40}" text-anchor="middle" ${FONT}>achieved rate, records/s of 1 KiB (log scale)</text>`);
  out.push(`<text transform="translate(-52,${PLOT_HEIGHT / 2}) rotate(-90)" text-anchor="middle" ${FONT}>p99 delivery latency, ms (log scale)</text>`);
  if (options.targetP99Ms !== undefined) {
    const level = px(y(options.targetP99Ms.valueMs));
    out.push(`<line class="target" x1="0" y1="${level}" x2="${PLOT_WIDTH}" y2="${level}" stroke="#888888" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${PLOT_WIDTH - 4}" y="${px(y(options.targetP99Ms.valueMs) - 5)}" text-anchor="end" ${FONT} fill="#666666">${escapeXml(options.targetP99Ms.label)}</text>`);
  }
  series.forEach((each, index) => {
    const colour = COLOURS[index % COLOURS.length]!;
    const coordinates = each.points.map((point) => `${px(x(point.achievedPerSecond))},${px(y(point.p99Ms))}`);
    out.push(`<g class="series" data-system="${escapeXml(each.name)}">`);
    out.push(`<polyline points="${coordinates.join(' ')}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    for (const point of each.points) {
      out.push(`<circle cx="${px(x(point.achievedPerSecond))}" cy="${px(y(point.p99Ms))}" r="4" fill="${colour}" data-rate="${point.ratePerSecond}" data-achieved="${point.achievedPerSecond.toFixed(0)}" data-p99="${point.p99Ms.toFixed(3)}"><title>${escapeXml(`${each.name}: ${point.ratePerSecond} records/s asked, ${point.achievedPerSecond.toFixed(0)} achieved, p99 ${point.p99Ms.toFixed(2)} ms`)}</title></circle>`);
    }
    out.push('</g>');
    const legendY = 12 + index * 22;
    out.push(`<line x1="${PLOT_WIDTH + 16}" y1="${legendY}" x2="${PLOT_WIDTH + 40}" y2="${legendY}" stroke="${colour}" stroke-width="2"/>`);
    out.push(`<circle cx="${PLOT_WIDTH + 28}" cy="${legendY}" r="4" fill="${colour}"/>`);
    out.push(`<text x="${PLOT_WIDTH + 48}" y="${legendY + 4}" ${FONT}>${escapeXml(each.name)}</text>`);
  });
  out.push('</g>');
  options.caption.forEach((line, index) => {
    const lineY = HEIGHT - 10 - (options.caption.length - 1 - index) * CAPTION_LINE_PX;
    out.push(`<text x="${WIDTH / 2}" y="${lineY}" text-anchor="middle" font-family="sans-serif" font-size="11" fill="#555555">${escapeXml(line)}</text>`);
  });
  out.push('</svg>', '');
  return out.join('\n');
}
