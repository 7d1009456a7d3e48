/**
 * export.ts — `debora export`: turns one run of a run directory into files other tools load. The
 * run's model is rebuilt (task model, adapters at the run's final ranks), its checkpoint loaded,
 * and then either written in PEFT's LoRA format (linear adapters; CP conv adapters in debora's
 * documented CP format, see docs/interop.md) or merged into the base weights and written as one
 * safetensors file. Tested in test/e2e/job.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeboraError } from '../errors';
import { exportPeft } from '../io/peft';
import { loadWeights, saveWeights } from '../io/weights';
import { attachAdapters } from '../nn/attach';
import { mergeAdapters } from '../nn/merge';
import type { Module } from '../nn/module';
import { readRunDir } from '../report/read';
import type { ResultRow } from '../report/types';
import { TASKS } from './tasks';

/** Export formats. */
export const EXPORT_FORMATS = ['peft', 'merged'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** What exportRun wrote. */
export interface ExportOutcome {
  run: string;
  format: ExportFormat;
  files: string[];
}

function bad(message: string): never {
  throw new DeboraError(`debora export: ${message}`, 'DEBORA_INVALID_ARG');
}

/** Rebuilds the adapted model of one run of `runDir` from its checkpoint. */
export function loadRunModel(runDir: string, runId: string): { model: Module; row: ResultRow; task: string } {
  const { config, results } = readRunDir(runDir);
  const ids = results.runs.map((r) => `${r.model}/${r.method}/seed${r.seed}`);
  const i = ids.indexOf(runId);
  if (i < 0) bad(`no run '${runId}' in '${runDir}'; runs: ${ids.join(', ') || 'none'}`);
  const row = results.runs[i] as ResultRow;
  const taskName = (config as { task?: unknown } | undefined)?.task;
  const task = typeof taskName === 'string' ? TASKS[taskName] : undefined;
  if (task === undefined) bad(`config.json of '${runDir}' is missing or names no known task (${String(taskName)})`);
  const spec = task.models[row.model];
  if (spec === undefined) bad(`task '${task.name}' has no model '${row.model}'`);
  const model = spec.load();
  const layers = Object.entries(row.ranks);
  if (layers.length > 0) {
    const overrides = Object.fromEntries(layers.map(([k, v]) => [k, { rank: v }]));
    attachAdapters(model, { targets: layers.map(([k]) => k), rank: 1, overrides });
  }
  loadWeights(model, path.join(runDir, 'checkpoints', `${row.model}-${row.method}-seed${row.seed}.safetensors`));
  return { model, row, task: task.name };
}

/** Exports run `runId` (e.g. 'mlp/debora/seed0') of `runDir` into the new or empty directory `out`. */
export function exportRun(runDir: string, runId: string, format: ExportFormat, out: string): ExportOutcome {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format))
    bad(`expected one of ${EXPORT_FORMATS.join(', ')} for --format, received '${format}'`);
  if (fs.existsSync(out) && (!fs.statSync(out).isDirectory() || fs.readdirSync(out).length > 0))
    bad(`the output directory '${out}' exists and is not empty; pick a new one`);
  const { model, row, task } = loadRunModel(runDir, runId);
  const meta = { run: runId, task, sourceRun: path.resolve(runDir), heldOutAccuracy: String(row.heldOutAccuracy) };
  if (format === 'peft') {
    if (Object.keys(row.ranks).length === 0)
      bad(`run '${runId}' (${row.method}) has no adapters to export in PEFT format; use --format merged`);
    fs.mkdirSync(out, { recursive: true });
    const r = exportPeft(model, out, { moduleNames: (layer) => layer, baseModel: `debora/${task}/${row.model}` });
    const files = [...r.files];
    const info = path.join(out, 'debora_export.json');
    fs.writeFileSync(info, `${JSON.stringify({ ...meta, ranks: row.ranks, skipped: r.skipped }, null, 2)}\n`);
    files.push(info);
    return { run: runId, format, files };
  }
  if (Object.keys(row.ranks).length > 0) mergeAdapters(model);
  fs.mkdirSync(out, { recursive: true });
  const file = path.join(out, 'model.safetensors');
  saveWeights(model, file, meta);
  return { run: runId, format, files: [file] };
}
