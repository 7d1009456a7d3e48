/**
 * run.ts — runs a job: for every seed, model and method one Trainer run on identical data, writing
 * the run directory as it goes (config.json, events.jsonl, results.json rewritten atomically after
 * every run, checkpoints/<model>-<method>-seed<S>.safetensors) and finally the report
 * (report.html, plots/*.svg; see lib/report). The loop yields to the event loop between outer
 * steps so Ctrl-C (an AbortSignal) is seen within one step: the run in progress is evaluated and
 * recorded as 'interrupted', results.json says so, and the directory stays valid.
 * Tested in test/e2e/job.test.ts and test/e2e/cli.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeAtomic } from '../data/files';
import { DeboraError } from '../errors';
import { saveWeights } from '../io/weights';
import { evaluate } from '../nn/train';
import type { ResultRow, RunEvent, RunResults } from '../report/types';
import { writeReport } from '../report/write';
import { Trainer } from '../trainer/trainer';
import { type JobConfig, type ResolvedJobConfig, trainerConfig, validateJobConfig } from './config';
import type { Progress } from './progress';
import { TASKS } from './tasks';

/** Options of runJob. */
export interface JobOptions {
  /** Run directory; created, and refused if it exists and is not empty (a finished run is never overwritten). */
  out: string;
  /** Aborting ends the job cleanly after the current outer step. */
  signal?: AbortSignal;
  /** Progress bars and lines (default: none). */
  progress?: Progress;
  /** Write report.html and plots/ at the end (default true). */
  report?: boolean;
}

/** What runJob returns: the content of results.json, and where things were written. */
export interface JobOutcome {
  results: RunResults;
  config: ResolvedJobConfig;
  dir: string;
  report: string | null;
}

function writeText(file: string, text: string): void {
  writeAtomic('runJob', file, Buffer.from(text, 'utf8'), false);
}

/** JSON with NaN/±Infinity as null (JSON cannot hold them; the report reads null back as NaN). */
function toJson(v: unknown, indent?: number): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? null : x), indent);
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs a job (see the file header). Validates everything before creating the directory. */
export async function runJob(config: JobConfig, options: JobOptions): Promise<JobOutcome> {
  const cfg = validateJobConfig(config);
  if (typeof options.out !== 'string' || options.out.length === 0)
    throw new DeboraError("runJob: expected a directory path for option 'out'", 'DEBORA_INVALID_ARG');
  const dir = path.resolve(options.out);
  if (fs.existsSync(dir) && (!fs.statSync(dir).isDirectory() || fs.readdirSync(dir).length > 0)) {
    throw new DeboraError(
      `runJob: the run directory '${dir}' already exists and is not empty. Fix: pick a new --out directory (runs are never overwritten)`,
      'DEBORA_INVALID_ARG',
    );
  }
  const task = TASKS[cfg.task] as NonNullable<(typeof TASKS)[string]>;
  const progress = options.progress;
  const signal = options.signal;
  fs.mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
  writeText(path.join(dir, 'config.json'), `${toJson(cfg, 2)}\n`);
  const results: RunResults = { status: 'running', startedAt: new Date().toISOString(), zeroShot: {}, runs: [] };
  const saveResults = () => writeText(path.join(dir, 'results.json'), `${toJson(results, 2)}\n`);
  saveResults();
  const events = fs.openSync(path.join(dir, 'events.jsonl'), 'a');
  const totalRuns = cfg.seeds.length * cfg.models.length * cfg.methods.length;
  let runIndex = 0;
  let interrupted = false;
  try {
    outer: for (const seed of cfg.seeds) {
      const { train, test } = task.data(seed, cfg.perClass, cfg.heldOut);
      for (const modelName of cfg.models) {
        const spec = task.models[modelName] as NonNullable<(typeof task.models)[string]>;
        if (seed === cfg.seeds[0]) {
          const base = spec.load();
          const zs = evaluate(base, test.x, test.y, test.sampleShape).accuracy;
          (results.zeroShot as Record<string, number>)[modelName] = zs;
          progress?.log(
            `${modelName}: ${spec.description}; ${train.n} labels, ${test.n} held out; pretrained model scores ${(100 * zs).toFixed(1)}% before fine-tuning`,
          );
        }
        for (const m of cfg.methods) {
          if (signal?.aborted) {
            interrupted = true;
            break outer;
          }
          runIndex++;
          const runId = `${modelName}/${m.label}/seed${seed}`;
          const steps = cfg.steps[modelName] as number;
          const t0 = performance.now();
          const model = spec.load();
          const trainer = new Trainer(model, train, trainerConfig(cfg.task, modelName, m, seed), {}, steps);
          progress?.start(`[${runIndex}/${totalRuns}] ${runId}`, steps);
          let status: ResultRow['status'] = 'completed';
          for (let k = 0; k < steps; k++) {
            await tick(); // lets SIGINT handlers run between outer steps
            if (signal?.aborted) {
              status = 'interrupted';
              break;
            }
            const e = trainer.step() as RunEvent;
            if (cfg.evalEvery > 0 && (k + 1) % cfg.evalEvery === 0) e.val = trainer.evaluate(test);
            e.run = runId;
            e.model = modelName;
            e.label = m.label;
            e.seed = seed;
            fs.writeSync(events, `${toJson(e)}\n`);
            const ranks = Object.values(e.ranks);
            progress?.update(k + 1, `loss ${e.lossD2.toFixed(3)}${ranks.length ? ` ranks ${ranks.join('/')}` : ''}`);
          }
          const wallSeconds = (performance.now() - t0) / 1000; // training only, not the final evaluation
          const acc = trainer.evaluate(test).accuracy;
          const row: ResultRow = {
            model: modelName,
            method: m.label,
            seed,
            heldOutAccuracy: acc,
            adapterParams: trainer.adapterParams(),
            ranks: trainer.ranks(),
            wallSeconds,
            steps: trainer.steps,
            status,
          };
          saveWeights(model, path.join(dir, 'checkpoints', `${modelName}-${m.label}-seed${seed}.safetensors`), {
            run: runId,
            method: m.method,
            status,
            steps: String(trainer.steps),
            note: 'all parameters of the adapted model (base weights include the offset init W0 - Psi0); load with loadWeights into the same model with the same adapters and ranks',
          });
          results.runs.push(row);
          saveResults();
          progress?.end(
            `${runId}: held-out ${(100 * acc).toFixed(1)}%, ${row.adapterParams} params${ranks(row)}, ${row.wallSeconds.toFixed(1)} s${status === 'interrupted' ? ' (interrupted)' : ''}`,
          );
          if (status === 'interrupted') {
            interrupted = true;
            break outer;
          }
        }
      }
    }
  } finally {
    fs.closeSync(events);
    results.status = interrupted ? 'interrupted' : results.status === 'running' ? 'completed' : results.status;
    results.finishedAt = new Date().toISOString();
    saveResults();
  }
  let report: string | null = null;
  if (options.report ?? true) {
    await writeReport(dir);
    report = path.join(dir, 'report.html');
  }
  return { results, config: cfg, dir, report };
}

function ranks(row: ResultRow): string {
  const v = Object.values(row.ranks);
  return v.length ? `, ranks ${v.join('/')}` : '';
}
