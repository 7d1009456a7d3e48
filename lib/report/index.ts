/**
 * index.ts — the run report: reading a run directory (results.json, events.jsonl, config.json),
 * its plots as Vega-Lite specs rendered to SVG, and the self-contained HTML page.
 * Tested in test/unit/report.test.ts and test/e2e/report-chromium.test.ts.
 */
export { escapeHtml, formatCount, formatPercent, formatRanks, type RenderOptions, renderReport } from './html';
export { buildPlots, MAX_POINTS, PLOT_NAMES, type PlotDef, type PlotName, plotDefs, renderSpec } from './plots';
export { parseEvents, RUN_FILES, readRunDir, validateRunResults } from './read';
export { downsample, type GroupSummary, mean, type SeriesPoint, std, summarize } from './stats';
export {
  JOB_STATUSES,
  type JobStatus,
  type ResultRow,
  type RunData,
  type RunEvent,
  type RunResults,
} from './types';
export { REPORT_FILES, type WrittenReport, writeReport } from './write';
