/**
 * read.ts — reads and validates a run directory (results.json, events.jsonl, config.json) into
 * RunData. Errors name the file, the line or field, what was expected and what was found; what
 * can be tolerated (no events file, a last line cut by an interrupted write, no config) becomes a
 * note shown in the report instead. Tested in test/unit/report.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeboraError } from '../errors';
import { describe } from '../validate';
import { JOB_STATUSES, type JobStatus, type ResultRow, type RunData, type RunEvent, type RunResults } from './types';

const WHERE = 'readRunDir';

/** Names of the files in a run directory. */
export const RUN_FILES = {
  config: 'config.json',
  events: 'events.jsonl',
  results: 'results.json',
} as const;

/** Reports a problem at a path inside one JSON value (`runs[2].seed`, `fw.gap`). */
type Fail = (field: string, expected: string, value: unknown) => never;

function failIn(context: string, fix: string): Fail {
  return (field, expected, value) => {
    throw new DeboraError(
      `${WHERE}: ${context}: expected ${expected} for field '${field}', received ${describe(value)}. Fix: ${fix}`,
      'DEBORA_INVALID_ARG',
    );
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function objectAt(v: unknown, field: string, fail: Fail): Record<string, unknown> {
  if (!isObject(v)) fail(field, 'an object', v);
  return v;
}

function stringAt(o: Record<string, unknown>, key: string, prefix: string, fail: Fail): string {
  const v = o[key];
  if (typeof v !== 'string') fail(prefix + key, 'a string', v);
  return v;
}

interface NumberRule {
  /** null in the file stands for NaN (JSON cannot hold NaN). */
  nullable?: boolean;
  integer?: boolean;
  min?: number;
  max?: number;
}

function numberAt(o: Record<string, unknown>, key: string, prefix: string, fail: Fail, rule: NumberRule = {}): number {
  const v = o[key];
  if (v === null && rule.nullable) return Number.NaN;
  const lo = rule.min ?? Number.NEGATIVE_INFINITY;
  const hi = rule.max ?? Number.POSITIVE_INFINITY;
  if (typeof v !== 'number' || !Number.isFinite(v) || (rule.integer && !Number.isInteger(v)) || v < lo || v > hi) {
    const kind = rule.integer ? 'an integer' : 'a finite number';
    const range =
      Number.isFinite(lo) && Number.isFinite(hi) ? ` in [${lo}, ${hi}]` : Number.isFinite(lo) ? ` >= ${lo}` : '';
    fail(prefix + key, `${kind}${range}${rule.nullable ? ' or null' : ''}`, v);
  }
  return v;
}

function ranksAt(o: Record<string, unknown>, key: string, prefix: string, fail: Fail): Record<string, number> {
  const r = objectAt(o[key], prefix + key, fail);
  const out: Record<string, number> = {};
  for (const layer of Object.keys(r)) {
    out[layer] = numberAt(r, layer, `${prefix}${key}.`, fail, { integer: true, min: 0 });
  }
  return out;
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new DeboraError(`${WHERE}: cannot read file '${file}' (${code ?? 'error'})`, 'DEBORA_INVALID_ARG');
  }
}

function parseJsonFile(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DeboraError(
      `${WHERE}: malformed file '${file}': not valid JSON (${(e as Error).message}). Fix: rewrite it (the job runner writes it atomically, so a broken file was edited by hand or by another tool)`,
      'DEBORA_INVALID_ARG',
    );
  }
}

/** Validates one row of results.json `runs`. */
function validateRow(v: unknown, i: number, fail: Fail): ResultRow {
  const p = `runs[${i}].`;
  const o = objectAt(v, `runs[${i}]`, fail);
  const status = o.status;
  if (status !== 'completed' && status !== 'interrupted') fail(`${p}status`, "'completed' or 'interrupted'", status);
  return {
    model: stringAt(o, 'model', p, fail),
    method: stringAt(o, 'method', p, fail),
    seed: numberAt(o, 'seed', p, fail, { integer: true }),
    // null: the run stopped before its held-out evaluation.
    heldOutAccuracy: numberAt(o, 'heldOutAccuracy', p, fail, { min: 0, max: 1, nullable: true }),
    adapterParams: numberAt(o, 'adapterParams', p, fail, { integer: true, min: 0 }),
    ranks: ranksAt(o, 'ranks', p, fail),
    wallSeconds: numberAt(o, 'wallSeconds', p, fail, { min: 0, nullable: true }),
    steps: numberAt(o, 'steps', p, fail, { integer: true, min: 0 }),
    status,
  };
}

/**
 * Validates the parsed content of results.json. `source` names the file in error messages.
 * The job runner can call this before writing, so a bad row fails where it is made.
 */
export function validateRunResults(value: unknown, source: string = RUN_FILES.results): RunResults {
  const fail = failIn(`malformed file '${source}'`, 'correct that field, or rerun the job to rewrite the file');
  const o = objectAt(value, '(top level)', fail);
  const status = o.status;
  if (typeof status !== 'string' || !(JOB_STATUSES as readonly string[]).includes(status)) {
    fail('status', JOB_STATUSES.map((s) => `'${s}'`).join(' or '), status);
  }
  const startedAt = stringAt(o, 'startedAt', '', fail);
  if (Number.isNaN(Date.parse(startedAt))) fail('startedAt', 'an ISO 8601 date', startedAt);
  const out: RunResults = { status: status as JobStatus, startedAt, runs: [] };
  if (o.finishedAt !== undefined) {
    out.finishedAt = stringAt(o, 'finishedAt', '', fail);
    if (Number.isNaN(Date.parse(out.finishedAt))) fail('finishedAt', 'an ISO 8601 date', out.finishedAt);
  }
  if (o.zeroShot !== undefined) {
    const z = objectAt(o.zeroShot, 'zeroShot', fail);
    out.zeroShot = {};
    for (const m of Object.keys(z)) out.zeroShot[m] = numberAt(z, m, 'zeroShot.', fail, { min: 0, max: 1 });
  }
  if (!Array.isArray(o.runs)) fail('runs', 'an array of result rows', o.runs);
  out.runs = (o.runs as unknown[]).map((r, i) => validateRow(r, i, fail));
  return out;
}

const NULLABLE = { nullable: true } as const;

/** Validates one parsed line of events.jsonl. */
function validateEvent(v: unknown, fail: Fail): RunEvent {
  const o = objectAt(v, '(line)', fail);
  let fw: RunEvent['fw'] = null;
  if (o.fw !== null) {
    const f = objectAt(o.fw, 'fw', fail);
    const identified = (): boolean => {
      if (typeof f.identified !== 'boolean') fail('fw.identified', 'a boolean', f.identified);
      return f.identified;
    };
    // Fields checked in the trainer's order, so the first bad one is the one reported.
    fw = {
      gap: numberAt(f, 'gap', 'fw.', fail, NULLABLE),
      type: stringAt(f, 'type', 'fw.', fail),
      status: stringAt(f, 'status', 'fw.', fail),
      alpha: numberAt(f, 'alpha', 'fw.', fail, NULLABLE),
      l1: numberAt(f, 'l1', 'fw.', fail, NULLABLE),
      budget: numberAt(f, 'budget', 'fw.', fail, NULLABLE),
      identified: identified(),
      truncated: numberAt(f, 'truncated', 'fw.', fail, { integer: true, min: 0 }),
    };
  }
  const e: RunEvent = {
    run: stringAt(o, 'run', '', fail),
    model: stringAt(o, 'model', '', fail),
    label: stringAt(o, 'label', '', fail),
    seed: numberAt(o, 'seed', '', fail, { integer: true }),
    step: numberAt(o, 'step', '', fail, { integer: true, min: 0 }),
    method: stringAt(o, 'method', '', fail),
    lossD2: numberAt(o, 'lossD2', '', fail, NULLABLE),
    lossD1: numberAt(o, 'lossD1', '', fail, NULLABLE),
    fw,
    ranks: ranksAt(o, 'ranks', '', fail),
    adapterParams: numberAt(o, 'adapterParams', '', fail, { integer: true, min: 0 }),
    stepMs: numberAt(o, 'stepMs', '', fail, NULLABLE),
    elapsedS: numberAt(o, 'elapsedS', '', fail, NULLABLE),
  };
  if (o.val !== undefined && o.val !== null) {
    const val = objectAt(o.val, 'val', fail);
    e.val = {
      loss: numberAt(val, 'loss', 'val.', fail, NULLABLE),
      accuracy: numberAt(val, 'accuracy', 'val.', fail, { min: 0, max: 1, nullable: true }),
    };
  }
  return e;
}

/**
 * Parses the text of events.jsonl. Blank lines are skipped. A last line without its newline that
 * does not parse is what an interrupted write leaves: it is dropped and reported in `notes`. Any
 * other bad line throws, naming its line number (1-based).
 */
export function parseEvents(text: string, source: string = RUN_FILES.events): { events: RunEvent[]; notes: string[] } {
  const lines = text.split('\n');
  // After a final '\n' split leaves an empty string; otherwise the last piece was cut short.
  const unterminated = lines[lines.length - 1] !== '';
  const events: RunEvent[] = [];
  const notes: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, '');
    if (line.trim() === '') continue;
    const last = i === lines.length - 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      if (last && unterminated) {
        notes.push(
          `The last line of ${path.basename(source)} (line ${i + 1}) was cut short, as an interrupted write leaves it, and was ignored.`,
        );
        break;
      }
      throw new DeboraError(
        `${WHERE}: malformed line ${i + 1} of '${source}': not valid JSON (${(err as Error).message}). Fix: delete or repair that line (only a cut-off last line is skipped on its own)`,
        'DEBORA_INVALID_ARG',
      );
    }
    const fail = failIn(
      `malformed line ${i + 1} of '${source}'`,
      'each line must be a trainer event with run, model, label and seed added by the job runner',
    );
    events.push(validateEvent(parsed, fail));
  }
  return { events, notes };
}

/**
 * Reads and validates the run directory `dir`: results.json is required; events.jsonl and
 * config.json may be absent (the report then says so and skips what needs them).
 */
export function readRunDir(dir: string): RunData {
  if (typeof dir !== 'string' || dir === '') {
    throw new DeboraError(
      `${WHERE}: expected a directory path for argument 'dir', received ${describe(dir)}`,
      'DEBORA_INVALID_ARG',
    );
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new DeboraError(
      `${WHERE}: run directory '${dir}' does not exist. Fix: pass the directory the job wrote (it holds ${RUN_FILES.results})`,
      'DEBORA_INVALID_ARG',
    );
  }
  if (!stat.isDirectory()) {
    throw new DeboraError(
      `${WHERE}: '${dir}' is a file, expected a run directory. Fix: pass the directory that holds ${RUN_FILES.results}`,
      'DEBORA_INVALID_ARG',
    );
  }
  const notes: string[] = [];
  const resultsFile = path.join(dir, RUN_FILES.results);
  const resultsText = readText(resultsFile);
  if (resultsText === null) {
    throw new DeboraError(
      `${WHERE}: '${resultsFile}' is missing. Fix: pass a run directory written by the job runner; it writes ${RUN_FILES.results} when the job starts and after every run`,
      'DEBORA_INVALID_ARG',
    );
  }
  const results = validateRunResults(parseJsonFile(resultsFile, resultsText), resultsFile);

  const eventsFile = path.join(dir, RUN_FILES.events);
  const eventsText = readText(eventsFile);
  let events: RunEvent[] = [];
  if (eventsText === null) {
    notes.push(`${RUN_FILES.events} is missing: the plots over training steps are skipped.`);
  } else {
    const parsed = parseEvents(eventsText, eventsFile);
    events = parsed.events;
    notes.push(...parsed.notes);
  }

  const configFile = path.join(dir, RUN_FILES.config);
  const configText = readText(configFile);
  let config: unknown;
  if (configText === null) notes.push(`${RUN_FILES.config} is missing: the job configuration cannot be shown.`);
  else config = parseJsonFile(configFile, configText);

  return { dir, config, results, events, notes };
}
