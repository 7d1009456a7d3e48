#!/usr/bin/env node
/**
 * cli.ts — the `debora` command. Commands: `info` (what this installation can do), `demo` (the
 * default job: Fashion-MNIST → MNIST, dEBORA against LoRA, head-only and full fine-tuning, on an
 * MLP and a CNN), `train` (a job from a JSON config file and/or flags), `report` (rebuild the
 * report of a run directory), `export` (one run in PEFT format or merged). Conventions: --help everywhere, data with --json on stdout,
 * progress and errors on stderr, exit 0 ok / 1 failure / 2 usage error / 130 interrupted (Ctrl-C
 * ends the job after the current step and leaves a valid run directory; a second Ctrl-C quits at
 * once). Tested in test/e2e/cli.test.ts and test/e2e/job.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { isDeboraError } from './errors';
import { formatInfo, info } from './info';
import { DEFAULT_JOB, type JobConfig, validateJobConfig } from './job/config';
import { EXPORT_FORMATS, type ExportFormat, exportRun } from './job/export';
import { createProgress } from './job/progress';
import { runJob } from './job/run';
import { formatResults } from './job/table';
import { TASKS } from './job/tasks';
import { packageVersion } from './native';
import { writeReport } from './report/write';

const USAGE = `Usage: debora <command> [options]

Rank-adaptive low-rank fine-tuning (dEBORA) for Node.js.

Commands:
  info      Report version, backends, CPU SIMD level and threads, CUDA status
  demo      Run the default job: Fashion-MNIST → MNIST, dEBORA vs LoRA vs head vs full, MLP and CNN
  train     Run a job from a JSON config file and/or flags
  report    Rebuild report.html and plots/ of a run directory
  export    Export one run's adapters in PEFT LoRA format, or merged into the base weights

Options:
  -h, --help     Show help (also: debora <command> --help)
  -v, --version  Print the version

Environment:
  DEBORA_BACKEND=auto|cpu|cuda   default backend (auto: CUDA if usable, else CPU)
  DEBORA_NUM_THREADS=N           CPU thread pool size (default: number of cores)
  DEBORA_SPIN_US=N               µs an idle pool thread polls before sleeping (default 100, 0 = off)
  DEBORA_SIMD=scalar|avx2|avx512 cap the CPU SIMD code path
`;

const INFO_USAGE = `Usage: debora info [--json]

Reports the debora version, the available backends, the CPU SIMD level and thread count, and
whether CUDA is usable (device name, memory, compute capability) or exactly why not.

Options:
  --json      Print the report as JSON on stdout
  -h, --help  Show this help
`;

const JOB_OPTIONS = `Job options (override the config):
  --out DIR          run directory (default runs/<date-time>); must not exist or be empty
  --task NAME        ${Object.keys(TASKS).join(' | ')}
  --models A,B       base models of the task to run (default: all)
  --methods A,B      method labels to keep, e.g. debora,lora-r16 (default: all)
  --seeds 0,1,2      seeds (label draw, batches, initialisation; default 0)
  --steps N          outer steps of every run (default per model)
  --per-class N      labelled training examples per class (default 100)
  --held-out N       held-out examples scored (default: all the others)
  --eval-every N     evaluate on the held-out set every N outer steps (default 0: end only)
  --no-report        skip report.html and plots/
  --json             print results.json on stdout (progress stays on stderr)
  -h, --help         show this help`;

const DEMO_USAGE = `Usage: debora demo [options]

The default job. Two networks pretrained on Fashion-MNIST (an MLP 784-128-64-10 and a small CNN,
shipped with the package) are adapted to MNIST digits with 100 labels per class and scored on the
other 9,000 digits: dEBORA (rank-adaptive CP adapters, initial rank 16; CP conv adapters on the
CNN's convolutions), LoRA at ranks 4 and 16, head only and full fine-tuning, on the same data,
seed and gradient budget. Writes a run directory with config.json, events.jsonl, results.json,
checkpoints/ and report.html. Under a minute on 2 cores.

${JOB_OPTIONS}
`;

const TRAIN_USAGE = `Usage: debora train [config.json] [options]

Runs a job described by a JSON config file (see docs/cli.md for the fields: task, models,
methods with their trainer settings, seeds, steps, perClass, heldOut, evalEvery) and/or flags;
without a file, the default job. Writes the same run directory as 'debora demo'.

${JOB_OPTIONS}
`;

const REPORT_USAGE = `Usage: debora report <run-dir>

Rebuilds report.html and plots/*.svg of a run directory from its config.json, events.jsonl and
results.json (also for an interrupted run).

Options:
  -h, --help  Show this help
`;

const EXPORT_USAGE = `Usage: debora export <run-dir> --run MODEL/METHOD/seedS [--format peft|merged] --out DIR

Rebuilds the adapted model of one run from its checkpoint and writes it for other tools:
  peft    adapter_config.json + adapter_model.safetensors in PEFT's LoRA format (linear adapters,
          s folded into lora_A/lora_B), CP conv adapters in debora's CP format (docs/interop.md)
  merged  model.safetensors: the base weights with the adapters merged in (W0 + U diag(s) Vᵀ;
          conv: the dense ΔK), loadable with loadWeights into the plain base model

Options:
  --run ID        the run, as in results.json: e.g. mlp/debora/seed0
  --format F      peft (default) or merged
  --out DIR       output directory (new or empty)
  -h, --help      Show this help
`;

class UsageError extends Error {}

function parseList(flag: string, v: string, ints: boolean): Array<string | number> {
  const parts = v.split(',').map((x) => x.trim());
  if (parts.some((p) => p === '')) throw new UsageError(`${flag} expects a comma-separated list, received '${v}'`);
  if (!ints) return parts;
  return parts.map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} expects non-negative integers, received '${v}'`);
    return n;
  });
}

function parseCount(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} expects an integer >= ${min}, received '${v}'`);
  return n;
}

function defaultOut(): string {
  const t = new Date().toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
  return path.join('runs', t);
}

async function cmdJob(args: string[], fromFile: boolean): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: fromFile,
    options: {
      out: { type: 'string' },
      task: { type: 'string' },
      models: { type: 'string' },
      methods: { type: 'string' },
      seeds: { type: 'string' },
      steps: { type: 'string' },
      'per-class': { type: 'string' },
      'held-out': { type: 'string' },
      'eval-every': { type: 'string' },
      'no-report': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(fromFile ? TRAIN_USAGE : DEMO_USAGE);
    return 0;
  }
  let config: JobConfig = { ...DEFAULT_JOB };
  if (positionals.length > 1) throw new UsageError(`train takes one config file, received ${positionals.length}`);
  const file = positionals[0];
  if (file !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read config file '${file}' (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      config = JSON.parse(text) as JobConfig;
    } catch (e) {
      throw new UsageError(`config file '${file}' is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof config !== 'object' || config === null || Array.isArray(config))
      throw new UsageError(`config file '${file}' must hold a JSON object`);
  }
  if (values.task !== undefined) config.task = values.task;
  if (values.models !== undefined) config.models = parseList('--models', values.models, false) as string[];
  if (values.seeds !== undefined) config.seeds = parseList('--seeds', values.seeds, true) as number[];
  if (values.steps !== undefined) config.steps = parseCount('--steps', values.steps, 1);
  if (values['per-class'] !== undefined) config.perClass = parseCount('--per-class', values['per-class'], 1);
  if (values['held-out'] !== undefined) config.heldOut = parseCount('--held-out', values['held-out'], 10);
  if (values['eval-every'] !== undefined) config.evalEvery = parseCount('--eval-every', values['eval-every'], 0);
  if (values.methods !== undefined) {
    const keep = parseList('--methods', values.methods, false) as string[];
    const all = validateJobConfig(config).methods;
    for (const k of keep)
      if (!all.some((m) => m.label === k))
        throw new UsageError(`--methods: no method labelled '${k}' (have ${all.map((m) => m.label).join(', ')})`);
    config.methods = all.filter((m) => keep.includes(m.label));
  }
  const out = values.out ?? defaultOut();
  const progress = createProgress(process.stderr);
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) {
      process.stderr.write('\ndebora: second interrupt, quitting now; the run directory may lack its report\n');
      process.exit(130);
    }
    controller.abort();
    progress.log('debora: interrupted, finishing the current step and saving (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSigint);
  try {
    const r = await runJob(config, { out, progress, signal: controller.signal, report: !values['no-report'] });
    if (values.json) process.stdout.write(`${JSON.stringify(r.results, null, 2)}\n`);
    else process.stdout.write(`\n${formatResults(r.results.runs)}\n`);
    process.stderr.write(`\nrun directory: ${r.dir}${r.report ? `\nreport: ${r.report}` : ''}\n`);
    if (r.results.status === 'interrupted') {
      process.stderr.write('debora: the job was interrupted; results.json says which runs finished\n');
      return 130;
    }
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function cmdReport(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h', default: false } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(REPORT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('report expects exactly one run directory');
  const r = await writeReport(positionals[0] as string);
  process.stdout.write(`${r.html}\n`);
  return 0;
}

function cmdExport(args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      run: { type: 'string' },
      format: { type: 'string', default: 'peft' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(EXPORT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('export expects exactly one run directory');
  if (values.run === undefined) throw new UsageError('export needs --run MODEL/METHOD/seedS (see results.json)');
  if (values.out === undefined) throw new UsageError('export needs --out DIR');
  if (!(EXPORT_FORMATS as readonly string[]).includes(values.format as string))
    throw new UsageError(`--format expects one of ${EXPORT_FORMATS.join(', ')}, received '${values.format}'`);
  const r = exportRun(positionals[0] as string, values.run, values.format as ExportFormat, values.out);
  for (const f of r.files) process.stdout.write(`${f}\n`);
  return 0;
}

function cmdInfo(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(INFO_USAGE);
    return 0;
  }
  const i = info();
  process.stdout.write(values.json ? `${JSON.stringify(i, null, 2)}\n` : `${formatInfo(i)}\n`);
  return 0;
}

/** Runs the CLI on argv (without node and script) and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    const [cmd, ...rest] = argv;
    if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    }
    if (cmd === '-v' || cmd === '--version') {
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    }
    if (cmd === 'info') return cmdInfo(rest);
    if (cmd === 'demo') return await cmdJob(rest, false);
    if (cmd === 'train') return await cmdJob(rest, true);
    if (cmd === 'report') return await cmdReport(rest);
    if (cmd === 'export') return cmdExport(rest);
    throw new UsageError(`unknown command '${cmd}'`);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`debora: ${(e as Error).message}\nRun 'debora --help' for usage.\n`);
      return 2;
    }
    if (isDeboraError(e)) {
      process.stderr.write(`debora: ${e.message} [${e.code}]\n`);
      return 1;
    }
    throw e;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`debora: internal error: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
