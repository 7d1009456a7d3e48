/**
 * plots.ts — the report's plots as Vega-Lite specs built from RunData, and their server-side
 * rendering to standalone SVG (vega's headless 'none' renderer: no canvas, no browser, no
 * network; the data is inlined in each spec). Tested in test/unit/report.test.ts (every SVG
 * parses and holds its marks) and test/e2e/report-chromium.test.ts (a browser shows them).
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { changePoints, downsample, type SeriesPoint, summarize } from './stats';
import type { RunData, RunEvent } from './types';

/** Names of the plots, in report order; each is written to plots/<name>.svg. */
export const PLOT_NAMES = ['loss', 'fw-gap', 'ranks', 'accuracy-params', 'val-accuracy'] as const;
export type PlotName = (typeof PLOT_NAMES)[number];

/** One plot of the report: its spec, or why there is none. */
export interface PlotDef {
  name: PlotName;
  title: string;
  /** What the plot shows and how it was reduced, for the report's caption. */
  caption: string;
  /** The Vega-Lite spec, or null when the run has no data for this plot. */
  spec: TopLevelSpec | null;
  /** When `spec` is null: the sentence the report shows instead. */
  skipped?: string;
}

/** Points per run and series after downsampling: enough to see the shape, small enough to inline. */
export const MAX_POINTS = 200;

const PANEL = { width: 300, height: 200 };

// One look for every plot; white background so a saved SVG reads the same on dark viewers.
const CONFIG = {
  background: 'white',
  font: 'sans-serif',
  view: { stroke: '#ccc' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 240 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  title: { fontSize: 14, anchor: 'start' as const },
};

interface RunSeries {
  run: string;
  model: string;
  label: string;
  seed: number;
  events: RunEvent[];
}

/** Events grouped by run id (first-appearance order), each sorted by step. */
function byRun(events: readonly RunEvent[]): RunSeries[] {
  const runs = new Map<string, RunSeries>();
  for (const e of events) {
    let r = runs.get(e.run);
    if (r === undefined) {
      r = { run: e.run, model: e.model, label: e.label, seed: e.seed, events: [] };
      runs.set(e.run, r);
    }
    r.events.push(e);
  }
  for (const r of runs.values()) r.events.sort((a, b) => a.step - b.step);
  return [...runs.values()];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function unique(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

/**
 * Method labels in the order they first appear (results first): one colour per label, the same
 * in every plot, because every spec gets this domain.
 */
function labelDomain(data: RunData): string[] {
  return unique([...data.results.runs.map((r) => r.method), ...data.events.map((e) => e.label)]);
}

// Vega's default categorical scheme (tableau10), spelled out so every plot can give a label the
// colour of its position in labelDomain even when the plot shows only some labels.
const PALETTE = [
  '#4c78a8',
  '#f58518',
  '#e45756',
  '#72b7b2',
  '#54a24b',
  '#eeca3b',
  '#b279a2',
  '#ff9da6',
  '#9d755d',
  '#bab0ac',
];

/** Colour scale for the method labels present in a plot: legend lists only those, colours stay global. */
function labelScale(data: RunData, present: readonly string[]): { domain: string[]; range: string[] } {
  const all = labelDomain(data);
  const domain = all.filter((l) => present.includes(l));
  return { domain, range: domain.map((l) => PALETTE[all.indexOf(l) % PALETTE.length] as string) };
}

function modelDomain(data: RunData): string[] {
  return unique([...data.results.runs.map((r) => r.model), ...data.events.map((e) => e.model)]);
}

interface SeriesRow {
  run: string;
  model: string;
  label: string;
  seed: number;
  step: number;
  value: number;
}

function seriesRows(
  runs: readonly RunSeries[],
  pick: (e: RunEvent) => number,
  reduce: (pts: SeriesPoint[]) => SeriesPoint[],
): SeriesRow[] {
  const rows: SeriesRow[] = [];
  for (const r of runs) {
    const pts = reduce(r.events.map((e) => ({ step: e.step, value: pick(e) })));
    for (const p of pts)
      rows.push({ run: r.run, model: r.model, label: r.label, seed: r.seed, step: p.step, value: p.value });
  }
  return rows;
}

/** Log scale when every value is positive and they span at least a factor 10; else linear. */
function yScale(values: readonly number[]): { type: 'log' } | { type: 'linear'; zero: false } {
  const min = Math.min(...values);
  const max = Math.max(...values);
  return min > 0 && max / min >= 10 ? { type: 'log' } : { type: 'linear', zero: false };
}

/** A line per run over steps, coloured by method label, one panel per model. */
function stepLines(
  rows: SeriesRow[],
  models: string[],
  labels: { domain: string[]; range: string[] },
  y: { title: string; scale: object },
  points: boolean,
): TopLevelSpec {
  return {
    data: { values: rows },
    facet: { field: 'model', type: 'nominal', title: 'model', sort: models },
    columns: Math.min(models.length, 3),
    spec: {
      ...PANEL,
      mark: { type: 'line', strokeWidth: 1.5, opacity: 0.85, point: points },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'outer step' },
        y: { field: 'value', type: 'quantitative', title: y.title, scale: y.scale },
        color: { field: 'label', type: 'nominal', title: 'method', scale: labels },
        // One line per run: seeds of a method share its colour.
        detail: { field: 'run', type: 'nominal' },
      },
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
    config: CONFIG,
  };
}

function lossPlot(data: RunData, runs: RunSeries[]): PlotDef {
  const title = 'Training loss';
  const rows = seriesRows(
    runs,
    (e) => e.lossD2,
    (p) => downsample(p, MAX_POINTS),
  );
  if (rows.length === 0) {
    return { name: 'loss', title, caption: '', spec: null, skipped: skipSentence(data, 'no finite training loss') };
  }
  const scale = yScale(rows.map((r) => r.value));
  return {
    name: 'loss',
    title,
    caption:
      `Mean loss of each outer step's lower-level minibatches (D2 for dEBORA, all training data for the baselines), ` +
      `one line per run (seeds share their method's colour), one panel per model` +
      `${scale.type === 'log' ? ', log scale' : ''}. Runs longer than ${MAX_POINTS} steps are shown as ${MAX_POINTS} bin means.`,
    spec: stepLines(
      rows,
      modelDomain(data),
      labelScale(data, unique(rows.map((r) => r.label))),
      { title: 'training loss', scale },
      false,
    ),
  };
}

function gapPlot(data: RunData, runs: RunSeries[]): PlotDef {
  const title = 'Frank-Wolfe gap';
  const fwRuns = runs.filter((r) => r.events.some((e) => e.fw !== null));
  const rows = seriesRows(
    fwRuns,
    (e) => e.fw?.gap ?? Number.NaN,
    (p) => downsample(p, MAX_POINTS, true),
  );
  if (rows.length === 0) {
    const why = fwRuns.length === 0 ? 'no run used Frank-Wolfe (no dEBORA run)' : 'no positive finite FW gap';
    return { name: 'fw-gap', title, caption: '', spec: null, skipped: skipSentence(data, why) };
  }
  return {
    name: 'fw-gap',
    title,
    caption:
      `Frank-Wolfe gap (the stationarity measure on the budget simplex; it goes to 0 at a solution) per outer step of ` +
      `the dEBORA runs, log scale; zero, negative and non-finite gaps are left out. Runs longer than ${MAX_POINTS} steps ` +
      `are shown as ${MAX_POINTS} bins (geometric means).`,
    spec: stepLines(
      rows,
      modelDomain(data),
      labelScale(data, unique(rows.map((r) => r.label))),
      { title: 'FW gap', scale: { type: 'log' } },
      false,
    ),
  };
}

function ranksPlot(data: RunData, runs: RunSeries[]): PlotDef {
  const title = 'Per-layer rank during training';
  const fwRuns = runs.filter((r) => r.events.some((e) => e.fw !== null));
  const rows: Array<{ run: string; layer: string; step: number; rank: number }> = [];
  for (const r of fwRuns) {
    const layers = unique(r.events.flatMap((e) => Object.keys(e.ranks)));
    for (const layer of layers) {
      const pts = r.events
        .filter((e) => e.ranks[layer] !== undefined)
        .map((e) => ({ step: e.step, value: e.ranks[layer] as number }));
      let kept = changePoints(pts);
      // A rank that flips often (pairwise steps re-adding components) is binned like the other series.
      if (kept.length > MAX_POINTS) kept = downsample(pts, MAX_POINTS);
      for (const p of kept) rows.push({ run: r.run, layer, step: p.step, rank: p.value });
    }
  }
  if (rows.length === 0) {
    const why =
      fwRuns.length === 0 ? 'no run used Frank-Wolfe (no dEBORA run)' : 'the dEBORA runs reported no layer ranks';
    return { name: 'ranks', title, caption: '', spec: null, skipped: skipSentence(data, why) };
  }
  // Panels sorted by model, then label and seed, with as many columns as the model with most
  // dEBORA runs has: one row per model (the runner writes seed by seed, which would mix them).
  const models = modelDomain(data);
  const drawn = new Set(rows.map((r) => r.run));
  const sorted = fwRuns
    .filter((r) => drawn.has(r.run))
    .sort((a, b) => models.indexOf(a.model) - models.indexOf(b.model) || cmp(a.label, b.label) || a.seed - b.seed);
  const panels = sorted.map((r) => r.run);
  const perModel = new Map<string, number>();
  for (const r of sorted) perModel.set(r.model, (perModel.get(r.model) ?? 0) + 1);
  const columns = Math.min(Math.max(...perModel.values()), 4);
  return {
    name: 'ranks',
    title,
    caption:
      'Active rank of each adapted layer (the number of CP components whose weight is above the floor) over the outer ' +
      'steps of every dEBORA run, one panel per run (model/method/seed), one line per layer.',
    spec: {
      data: { values: rows },
      facet: { field: 'run', type: 'nominal', title: 'run', sort: panels },
      columns,
      spec: {
        width: 260,
        height: 170,
        mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.5 },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: 'outer step' },
          y: { field: 'rank', type: 'quantitative', title: 'rank', scale: { zero: true } },
          color: { field: 'layer', type: 'nominal', title: 'layer' },
        },
      },
      resolve: { scale: { x: 'independent' } },
      config: CONFIG,
    },
  };
}

/** Percentage points below the lowest run within which a zero-shot line is still drawn. */
const ZERO_SHOT_MARGIN = 15;

function accuracyPlot(data: RunData): PlotDef {
  const title = 'Held-out accuracy against adapter parameters';
  const ok = data.results.runs.filter((r) => Number.isFinite(r.heldOutAccuracy) && r.adapterParams > 0);
  if (ok.length === 0) {
    return {
      name: 'accuracy-params',
      title,
      caption: '',
      spec: null,
      skipped: skipSentence(data, 'no run has both a held-out accuracy and a positive parameter count', true),
    };
  }
  const models = modelDomain(data).filter((m) => ok.some((r) => r.model === m));
  const color = {
    field: 'method',
    type: 'nominal',
    title: 'method',
    scale: labelScale(data, unique(ok.map((r) => r.method))),
  };
  const shape = { field: 'model', type: 'nominal', title: 'model', scale: { domain: models } };
  const x = { type: 'quantitative', title: 'adapter parameters (log scale)', scale: { type: 'log' } };
  const y = { type: 'quantitative', title: 'held-out accuracy (%)', scale: { zero: false } };
  const points = ok.map((r) => ({
    model: r.model,
    method: r.method,
    seed: r.seed,
    params: r.adapterParams,
    acc: 100 * r.heldOutAccuracy,
  }));
  const groups = summarize(ok).filter((g) => g.seeds.length > 1);
  const spread = groups.map((g) => ({
    model: g.model,
    method: g.method,
    params: g.paramsMean,
    pmin: g.paramsMin,
    pmax: g.paramsMax,
    acc: 100 * g.accuracyMean,
    lo: 100 * (g.accuracyMean - g.accuracyStd),
    hi: 100 * (g.accuracyMean + g.accuracyStd),
  }));
  const layers: object[] = [
    {
      data: { values: points },
      mark: { type: 'point', filled: groups.length === 0, size: 60, opacity: groups.length === 0 ? 0.9 : 0.55 },
      encoding: { x: { ...x, field: 'params' }, y: { ...y, field: 'acc' }, color, shape },
    },
  ];
  if (groups.length > 0) {
    layers.push(
      {
        data: { values: spread },
        mark: { type: 'rule', strokeWidth: 1.5 },
        encoding: { x: { ...x, field: 'params' }, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color },
      },
      {
        data: { values: spread.filter((s) => s.pmax > s.pmin) },
        mark: { type: 'rule', strokeWidth: 1.5 },
        encoding: { x: { ...x, field: 'pmin' }, x2: { field: 'pmax' }, y: { ...y, field: 'acc' }, color },
      },
      {
        data: { values: spread },
        mark: { type: 'point', filled: true, size: 110 },
        encoding: { x: { ...x, field: 'params' }, y: { ...y, field: 'acc' }, color, shape },
      },
    );
  }
  // Zero-shot lines only near the fine-tuned accuracies: a pretrained model that scores 8% on the
  // new task would stretch the axis and squash every point into a band (the table has them all).
  const lowest = Math.min(...points.map((p) => p.acc));
  const zero = Object.entries(data.results.zeroShot ?? {})
    .filter(([, a]) => 100 * a >= lowest - ZERO_SHOT_MARGIN)
    .map(([model, a]) => ({ model, acc: 100 * a, text: `zero-shot ${model}` }));
  if (zero.length > 0) {
    const minParams = Math.min(...points.map((p) => p.params));
    layers.push(
      {
        data: { values: zero },
        mark: { type: 'rule', strokeDash: [4, 4], color: '#888' },
        encoding: { y: { ...y, field: 'acc' } },
      },
      {
        data: { values: zero },
        mark: { type: 'text', align: 'left', baseline: 'bottom', dy: -2, fontSize: 10, color: '#666' },
        encoding: {
          x: { datum: minParams, type: 'quantitative', scale: { type: 'log' } },
          y: { ...y, field: 'acc' },
          text: { field: 'text' },
        },
      },
    );
  }
  return {
    name: 'accuracy-params',
    title,
    caption:
      'Accuracy on the held-out split of every run against its adapter parameters (trainable parameters for head and ' +
      'full fine-tuning), log scale; colour is the method, shape the model.' +
      (groups.length > 0
        ? ' Filled large marks are the mean over seeds, with a vertical bar of ± one sample standard deviation and a ' +
          'horizontal bar over the range of parameter counts (dEBORA picks its ranks per seed); hollow marks are single seeds.'
        : '') +
      (zero.length > 0
        ? ` Dashed lines: accuracy of a pretrained model before fine-tuning (drawn when within ${ZERO_SHOT_MARGIN} points of the lowest run; the table lists all).`
        : ''),
    spec: { layer: layers, width: 520, height: 320, config: CONFIG } as TopLevelSpec,
  };
}

function valPlot(data: RunData, runs: RunSeries[]): PlotDef {
  const title = 'Validation accuracy during training';
  const withVal = runs
    .map((r) => ({ ...r, events: r.events.filter((e) => e.val !== undefined) }))
    .filter((r) => r.events.length > 0);
  const rows = seriesRows(
    withVal,
    (e) => 100 * (e.val?.accuracy ?? Number.NaN),
    (p) => downsample(p, MAX_POINTS),
  );
  if (rows.length === 0) {
    return {
      name: 'val-accuracy',
      title,
      caption: '',
      spec: null,
      skipped: skipSentence(data, 'no step was evaluated on validation data (evalEvery not set)'),
    };
  }
  return {
    name: 'val-accuracy',
    title,
    caption:
      'Accuracy on the validation data at the steps where the trainer evaluated it, one line per run, one panel per model.',
    spec: stepLines(
      rows,
      modelDomain(data),
      labelScale(data, unique(rows.map((r) => r.label))),
      { title: 'validation accuracy (%)', scale: { zero: false } },
      true,
    ),
  };
}

function skipSentence(data: RunData, why: string, fromResults = false): string {
  if (!fromResults && data.events.length === 0)
    return 'Not drawn: there are no training events (events.jsonl is missing or empty).';
  if (fromResults && data.results.runs.length === 0) return 'Not drawn: results.json lists no finished run yet.';
  return `Not drawn: ${why}.`;
}

/** The report's plots for `data`, in PLOT_NAMES order, each with a spec or the reason it has none. */
export function plotDefs(data: RunData): PlotDef[] {
  const runs = byRun(data.events);
  return [lossPlot(data, runs), gapPlot(data, runs), ranksPlot(data, runs), accuracyPlot(data), valPlot(data, runs)];
}

/**
 * Renders a Vega-Lite spec to a standalone SVG string. Element ids (clip paths, gradients) are
 * prefixed with `idPrefix`, so several SVGs inlined in one HTML page cannot capture each other's
 * references. Warnings from vega-lite and vega are returned, not printed.
 */
export async function renderSpec(spec: TopLevelSpec, idPrefix: string): Promise<{ svg: string; warnings: string[] }> {
  const warnings: string[] = [];
  const logger = vega.logger(vega.Warn, undefined, (_method, level, input) => {
    warnings.push(`${level}: ${input.map(String).join(' ')}`);
  });
  const vgSpec = compile(spec, { logger }).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none', logger, logLevel: vega.Warn });
  try {
    const svg = await view.toSVG();
    const prefixed = svg
      .replace(/\bid="([^"]+)"/g, `id="${idPrefix}-$1"`)
      .replace(/url\(#([^)]+)\)/g, `url(#${idPrefix}-$1)`)
      .replace(/href="#([^"]+)"/g, `href="#${idPrefix}-$1"`);
    return { svg: prefixed, warnings };
  } finally {
    view.finalize();
  }
}

/** Renders every plot that has data: plot name → SVG string (skipped plots are absent). */
export async function buildPlots(data: RunData): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const def of plotDefs(data)) {
    if (def.spec === null) continue;
    out[def.name] = (await renderSpec(def.spec, `plot-${def.name}`)).svg;
  }
  return out;
}
