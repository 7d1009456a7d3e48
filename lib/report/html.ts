/**
 * html.ts — the run report as one self-contained HTML page: inline CSS, the plots' SVG inlined,
 * no scripts, no external resources, so it opens from disk, from a CI artifact or an e-mail.
 * Every string that comes from the run's files is escaped. Tested in test/unit/report.test.ts
 * and, in a real browser, in test/e2e/report-chromium.test.ts.
 */
import * as path from 'node:path';
import { packageVersion } from '../native';
import type { PlotDef } from './plots';
import { type GroupSummary, summarize } from './stats';
import type { ResultRow, RunData } from './types';

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const DASH = '—';

/**
 * Accuracy in [0, 1] as a percentage with one decimal, as the CLI's results table prints it
 * ('—' when unknown).
 */
export function formatPercent(a: number): string {
  return Number.isFinite(a) ? (100 * a).toFixed(1) : DASH;
}

/** An integer with thousands separators, independent of the machine's locale. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return DASH;
  const s = String(Math.round(Math.abs(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return n < 0 ? `-${s}` : s;
}

function formatSeconds(s: number): string {
  return Number.isFinite(s) ? s.toFixed(1) : DASH;
}

/** Final ranks as 'layer: r' pairs in the file's order ('—' for methods without adapters). */
export function formatRanks(ranks: Record<string, number>): string {
  const e = Object.entries(ranks);
  return e.length === 0 ? DASH : e.map(([k, v]) => `${k}: ${v}`).join(', ');
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return DASH;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.round(seconds % 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s} s` : `${s} s`;
}

const CSS = `
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330; background: #fff;
  max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; border-bottom: 1px solid #dde1e8; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 22px 0 8px; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; }
.meta { color: #555d6b; margin: 0; }
.banner { border-radius: 6px; padding: 12px 16px; margin: 18px 0; border: 1px solid; }
.banner strong { font-size: 16px; margin-right: 6px; }
.status-completed { background: #e9f7ee; border-color: #7cc495; }
.status-interrupted { background: #fdecea; border-color: #e38b82; }
.status-running { background: #fff6e0; border-color: #e7c063; }
.notes { background: #f5f6f8; border-left: 4px solid #9aa3b2; padding: 8px 14px 8px 30px; margin: 12px 0; }
table { border-collapse: collapse; margin: 8px 0 4px; font-size: 14px; }
th, td { padding: 5px 10px; border-bottom: 1px solid #e3e6eb; text-align: left; vertical-align: top; }
th { background: #f3f5f8; font-weight: 600; }
tbody tr:nth-child(even) { background: #fafbfc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.ranks { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; max-width: 320px; }
tr.interrupted td { background: #fdf3f2; }
.tag-interrupted { color: #b3261e; font-weight: 600; }
.table-note { color: #555d6b; font-size: 13px; margin: 2px 0 0; }
figure { margin: 18px 0 28px; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #3c4453; font-size: 14px; max-width: 900px; margin-top: 6px; }
.skipped { color: #555d6b; font-style: italic; }
details { margin: 8px 0; }
summary { cursor: pointer; font-weight: 600; }
pre.config { background: #f5f6f8; border: 1px solid #e3e6eb; border-radius: 4px; padding: 12px; overflow: auto; max-height: 640px; }
footer { margin-top: 44px; color: #6b7280; font-size: 13px; border-top: 1px solid #e3e6eb; padding-top: 8px; }
`;

/** Options of renderReport. */
export interface RenderOptions {
  /** Time printed in the footer (default: now). Fixed in tests. */
  generatedAt?: Date;
}

function banner(data: RunData): string {
  const { results } = data;
  const n = results.runs.length;
  const stopped = results.runs.filter((r) => r.status === 'interrupted').length;
  const runs = (k: number) => `${k} run${k === 1 ? '' : 's'}`;
  if (results.status === 'interrupted') {
    return (
      `<div class="banner status-interrupted" id="status" data-status="interrupted"><strong>Interrupted.</strong> ` +
      `The job was stopped before it finished: the results below are partial. ${runs(n)} recorded` +
      `${stopped > 0 ? `, of which ${stopped} interrupted (marked in the table)` : ''}.</div>`
    );
  }
  if (results.status === 'running') {
    return (
      `<div class="banner status-running" id="status" data-status="running"><strong>Running.</strong> ` +
      `The job had not finished when this report was made: it shows the ${runs(n)} recorded so far. ` +
      `Rebuild it later with <code>debora report ${escapeHtml(path.resolve(data.dir))}</code>.</div>`
    );
  }
  return (
    `<div class="banner status-completed" id="status" data-status="completed"><strong>Completed.</strong> ` +
    `${runs(n)} finished${stopped > 0 ? `, ${stopped} of them interrupted (marked in the table)` : ''}.</div>`
  );
}

function metaLine(data: RunData): string {
  const { startedAt, finishedAt } = data.results;
  const parts = [
    `Run directory <code>${escapeHtml(path.resolve(data.dir))}</code>`,
    `started ${escapeHtml(startedAt)}`,
  ];
  if (finishedAt !== undefined) {
    parts.push(`finished ${escapeHtml(finishedAt)}`);
    parts.push(`took ${formatDuration((Date.parse(finishedAt) - Date.parse(startedAt)) / 1000)}`);
  }
  return `<p class="meta">${parts.join(' · ')}</p>`;
}

/** Notes from the reader plus the cross-checks only the whole picture allows. */
function allNotes(data: RunData): string[] {
  const notes = [...data.notes];
  const rowKeys = new Set(data.results.runs.map((r) => JSON.stringify([r.model, r.method, r.seed])));
  const orphans = new Map<string, true>();
  for (const e of data.events) {
    if (!rowKeys.has(JSON.stringify([e.model, e.label, e.seed]))) orphans.set(e.run, true);
  }
  if (orphans.size > 0) {
    const ids = [...orphans.keys()];
    notes.push(
      `${ids.length} run${ids.length === 1 ? ' has' : 's have'} training events but no row in results.json ` +
        `(running or stopped when it was last written): ${ids.join(', ')}.`,
    );
  }
  return notes;
}

function resultsTable(rows: readonly ResultRow[]): string {
  if (rows.length === 0) return '<p class="skipped">No run has finished yet: results.json lists no rows.</p>';
  const head =
    '<tr><th>model</th><th>method</th><th class="num">seed</th><th class="num">held-out accuracy (%)</th>' +
    '<th class="num">adapter params</th><th>final ranks</th><th class="num">steps</th><th class="num">wall (s)</th>' +
    '<th>status</th></tr>';
  const body = rows
    .map((r) => {
      const status =
        r.status === 'interrupted' ? '<span class="tag-interrupted">interrupted</span>' : escapeHtml(r.status);
      return (
        `<tr class="${r.status}"><td>${escapeHtml(r.model)}</td><td>${escapeHtml(r.method)}</td>` +
        `<td class="num">${r.seed}</td><td class="num">${formatPercent(r.heldOutAccuracy)}</td>` +
        `<td class="num">${formatCount(r.adapterParams)}</td><td class="ranks">${escapeHtml(formatRanks(r.ranks))}</td>` +
        `<td class="num">${formatCount(r.steps)}</td><td class="num">${formatSeconds(r.wallSeconds)}</td>` +
        `<td>${status}</td></tr>`
      );
    })
    .join('\n');
  return `<table class="runs" id="results-table"><thead>${head}</thead><tbody>\n${body}\n</tbody></table>`;
}

function pm(m: number, s: number, f: (x: number) => string): string {
  return Number.isFinite(s) ? `${f(m)} ± ${f(s)}` : f(m);
}

function summaryTable(groups: readonly GroupSummary[]): string {
  const head =
    '<tr><th>model</th><th>method</th><th class="num">seeds</th><th class="num">held-out accuracy (%)</th>' +
    '<th class="num">adapter params</th><th class="num">wall (s)</th></tr>';
  const body = groups
    .map((g) => {
      const params =
        g.paramsMin === g.paramsMax
          ? formatCount(g.paramsMean)
          : `${formatCount(g.paramsMean)} (${formatCount(g.paramsMin)}–${formatCount(g.paramsMax)})`;
      const stopped = g.interrupted > 0 ? ` <span class="tag-interrupted">(${g.interrupted} interrupted)</span>` : '';
      return (
        `<tr><td>${escapeHtml(g.model)}</td><td>${escapeHtml(g.method)}</td>` +
        `<td class="num">${g.seeds.length}${stopped}</td>` +
        `<td class="num">${pm(g.accuracyMean, g.accuracyStd, formatPercent)}</td>` +
        `<td class="num">${params}</td><td class="num">${formatSeconds(g.wallMean)}</td></tr>`
      );
    })
    .join('\n');
  return (
    `<table class="summary" id="summary-table"><thead>${head}</thead><tbody>\n${body}\n</tbody></table>` +
    '<p class="table-note">Mean ± sample standard deviation (n − 1) over seeds; adapter parameters: mean (min–max).</p>'
  );
}

function zeroShotTable(zeroShot: Record<string, number> | undefined): string {
  const e = Object.entries(zeroShot ?? {});
  if (e.length === 0) return '';
  const body = e
    .map(([m, a]) => `<tr><td>${escapeHtml(m)}</td><td class="num">${formatPercent(a)}</td></tr>`)
    .join('\n');
  return (
    '<h3>Before fine-tuning</h3><table class="zero-shot" id="zero-shot-table"><thead><tr><th>model</th>' +
    `<th class="num">zero-shot accuracy (%)</th></tr></thead><tbody>\n${body}\n</tbody></table>`
  );
}

function plotSection(defs: readonly PlotDef[], svgs: Record<string, string>): string {
  return defs
    .map((d) => {
      const svg = svgs[d.name];
      if (d.spec === null || svg === undefined) {
        const why = d.skipped ?? 'Not drawn: the plot could not be rendered.';
        return `<figure id="plot-${d.name}" class="plot skipped-plot"><h3>${escapeHtml(d.title)}</h3><p class="skipped">${escapeHtml(why)}</p></figure>`;
      }
      // The SVG comes from vega, which escapes the data's text; it is inlined as is.
      return (
        `<figure id="plot-${d.name}" class="plot"><h3>${escapeHtml(d.title)}</h3>\n${svg}\n` +
        `<figcaption>${escapeHtml(d.caption)} File: <code>plots/${d.name}.svg</code>.</figcaption></figure>`
      );
    })
    .join('\n');
}

function configSection(config: unknown): string {
  if (config === undefined) return '<p class="skipped">config.json is missing.</p>';
  return (
    '<details><summary>config.json</summary>' +
    `<pre class="config">${escapeHtml(JSON.stringify(config, null, 2))}</pre></details>`
  );
}

/**
 * The report page for `data` with the rendered plots `svgs` (plot name → SVG; see buildPlots) and
 * their definitions `defs` (see plotDefs), which give titles, captions and why a plot is absent.
 */
export function renderReport(
  data: RunData,
  defs: readonly PlotDef[],
  svgs: Record<string, string>,
  options: RenderOptions = {},
): string {
  const generated = (options.generatedAt ?? new Date()).toISOString();
  const groups = summarize(data.results.runs);
  const seeded = groups.some((g) => g.seeds.length > 1);
  const notes = allNotes(data);
  const name = path.basename(path.resolve(data.dir));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="debora ${escapeHtml(packageVersion())}">
<title>debora run report: ${escapeHtml(name)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>debora run report: ${escapeHtml(name)}</h1>
${metaLine(data)}
</header>
${banner(data)}
${notes.length > 0 ? `<ul class="notes" id="notes">${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}
<section id="results">
<h2>Results</h2>
${resultsTable(data.results.runs)}
${seeded ? `<h3>Over seeds</h3>\n${summaryTable(groups)}` : ''}
${zeroShotTable(data.results.zeroShot)}
</section>
<section id="plots">
<h2>Plots</h2>
${plotSection(defs, svgs)}
</section>
<section id="config">
<h2>Configuration</h2>
${configSection(data.config)}
</section>
<footer>Made by debora ${escapeHtml(packageVersion())} at ${generated} from results.json, events.jsonl and config.json
(${data.events.length} training events). Rebuild with <code>debora report ${escapeHtml(path.resolve(data.dir))}</code>.</footer>
</body>
</html>
`;
}
