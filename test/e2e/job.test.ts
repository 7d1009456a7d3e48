/**
 * job.test.ts — the main job as a user runs it (the compiled dist/cli.js in a child process), on
 * the real data, shortened: the run directory (config.json, events.jsonl, results.json,
 * checkpoints, report), the results table, plain progress lines off a terminal, Ctrl-C, `debora
 * report`, and the errors of bad flags and configs.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readSafetensors } from '../../lib/io/safetensors';
import { loadWeights } from '../../lib/io/weights';
import { TASKS } from '../../lib/job/tasks';
import { fashionModel } from '../../lib/models/fashion';
import { attachAdapters } from '../../lib/nn/attach';
import { evaluate } from '../../lib/nn/train';
import type { ResultRow, RunResults } from '../../lib/report/types';

const root = path.resolve(__dirname, '../..');
const cli = path.join(root, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'debora-job-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function debora(...args: string[]) {
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build:ts\` (npm ci does it)`);
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const readJson = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8'));

describe('the default job, shortened (both models, every method, 6 outer steps)', () => {
  const out = path.join(tmp, 'run');
  const STEPS = 6;
  let r: ReturnType<typeof debora>;
  let results: RunResults;
  beforeAll(() => {
    r = debora('demo', '--steps', String(STEPS), '--per-class', '5', '--held-out', '300', '--out', out, '--json');
    if (r.code !== 0) throw new Error(`debora demo failed (${r.code}):\n${r.stderr}`);
    results = readJson(path.join(out, 'results.json'));
  }, 180_000);

  test('results.json: one completed entry per model × method, with the fields of the issue', () => {
    expect(JSON.parse(r.stdout)).toEqual(results);
    expect(results.status).toBe('completed');
    expect(Date.parse(results.finishedAt as string)).toBeGreaterThanOrEqual(Date.parse(results.startedAt));
    const ids = results.runs.map((x) => `${x.model}/${x.method}`);
    const methods = ['debora', 'lora-r4', 'lora-r16', 'head', 'full'];
    expect(ids).toEqual([...methods.map((m) => `mlp/${m}`), ...methods.map((m) => `cnn/${m}`)]);
    for (const x of results.runs) {
      expect(x.seed).toBe(0);
      expect(x.status).toBe('completed');
      expect(x.steps).toBe(STEPS);
      expect(x.heldOutAccuracy).toBeGreaterThan(0);
      expect(x.heldOutAccuracy).toBeLessThanOrEqual(1);
      expect(x.adapterParams).toBeGreaterThan(0);
      expect(x.wallSeconds).toBeGreaterThan(0);
    }
    const row = (id: string) => results.runs.find((x) => `${x.model}/${x.method}` === id) as ResultRow;
    // LoRA r4 on the MLP: 4·(784+128+1) + 4·(128+64+1) + 4·(64+10+1) parameters, ranks as set.
    expect(row('mlp/lora-r4').adapterParams).toBe(4 * (913 + 193 + 75));
    expect(row('mlp/lora-r4').ranks).toEqual({ fc1: 4, fc2: 4, fc3: 4 });
    // The CNN's conv adapters are order-4 CP adapters: r·(out + in + kh + kw + 1).
    expect(row('cnn/lora-r4').ranks).toEqual({ conv1: 4, conv2: 4, fc1: 4, fc2: 4 });
    expect(row('cnn/lora-r4').adapterParams).toBe(
      4 * (8 + 1 + 3 + 3 + 1 + (16 + 8 + 3 + 3 + 1) + (784 + 64 + 1) + (64 + 10 + 1)),
    );
    expect(row('mlp/head').ranks).toEqual({});
    expect(row('mlp/head').adapterParams).toBe(64 * 10 + 10);
    expect(Object.keys(results.zeroShot ?? {})).toEqual(['mlp', 'cnn']);
  });

  test('events.jsonl: one well-formed line per outer step of every run, in order', () => {
    const lines = fs.readFileSync(path.join(out, 'events.jsonl'), 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(10 * STEPS);
    const events = lines.map((l) => JSON.parse(l));
    for (const [i, e] of events.entries()) {
      const run = results.runs[Math.floor(i / STEPS)] as ResultRow;
      expect(e.run).toBe(`${run.model}/${run.method}/seed0`);
      expect(e.model).toBe(run.model);
      expect(e.label).toBe(run.method);
      expect(e.step).toBe(i % STEPS);
      expect(Number.isFinite(e.lossD2)).toBe(true);
      expect(e.stepMs).toBeGreaterThan(0);
      if (run.method === 'debora') {
        expect(e.fw.l1).toBeLessThanOrEqual(e.fw.budget * (1 + 1e-9) + 1e-9);
        expect(Number.isFinite(e.lossD1)).toBe(true);
      } else {
        expect(e.fw).toBeNull();
        expect(e.lossD1).toBeNull(); // NaN written as null
      }
    }
  });

  test('config.json holds the resolved job; a checkpoint loads back and scores what results.json says', () => {
    const cfg = readJson(path.join(out, 'config.json'));
    expect(cfg.task).toBe('fashion-mnist-to-mnist');
    expect(cfg.steps).toEqual({ mlp: STEPS, cnn: STEPS });
    expect(cfg.methods.map((m: { label: string }) => m.label)).toEqual([
      'debora',
      'lora-r4',
      'lora-r16',
      'head',
      'full',
    ]);
    const row = results.runs.find((x) => x.model === 'cnn' && x.method === 'debora') as ResultRow;
    const file = path.join(out, 'checkpoints', 'cnn-debora-seed0.safetensors');
    expect(readSafetensors(file).metadata.run).toBe('cnn/debora/seed0');
    const task = TASKS['fashion-mnist-to-mnist'] as NonNullable<(typeof TASKS)[string]>;
    const spec = task.models.cnn as NonNullable<(typeof task.models)[string]>;
    const model = spec.load();
    const overrides = Object.fromEntries(Object.entries(row.ranks).map(([k, v]) => [k, { rank: v }]));
    attachAdapters(model, { targets: spec.targets, rank: 1, overrides });
    loadWeights(model, file);
    const { test: heldOut } = task.data(0, 5, 300);
    expect(evaluate(model, heldOut.x, heldOut.y, heldOut.sampleShape).accuracy).toBeCloseTo(row.heldOutAccuracy, 12);
  });

  test('`debora export`: PEFT files for a LoRA run, merged weights that score like the adapted model', () => {
    const peft = path.join(tmp, 'peft');
    const r1 = debora('export', out, '--run', 'mlp/lora-r4/seed0', '--out', peft);
    expect(r1.code).toBe(0);
    const cfg = readJson(path.join(peft, 'adapter_config.json'));
    expect(cfg.peft_type).toBe('LORA');
    expect(cfg.rank_pattern).toEqual({ fc1: 4, fc2: 4, fc3: 4 });
    const w = readSafetensors(path.join(peft, 'adapter_model.safetensors')).tensors;
    expect(w.get('base_model.model.fc1.lora_A.weight')?.shape).toEqual([4, 784]);
    expect(w.get('base_model.model.fc1.lora_B.weight')?.shape).toEqual([128, 4]);
    const merged = path.join(tmp, 'merged');
    const r2 = debora('export', out, '--run', 'cnn/debora/seed0', '--format', 'merged', '--out', merged);
    expect(r2.code).toBe(0);
    const row = results.runs.find((x) => x.model === 'cnn' && x.method === 'debora') as ResultRow;
    const plain = fashionModel('cnn'); // no adapters: the merged file holds plain base weights
    loadWeights(plain, path.join(merged, 'model.safetensors'));
    const task = TASKS['fashion-mnist-to-mnist'] as NonNullable<(typeof TASKS)[string]>;
    const { test: heldOut } = task.data(0, 5, 300);
    const acc = evaluate(plain, heldOut.x, heldOut.y, heldOut.sampleShape).accuracy;
    expect(Math.abs(acc - row.heldOutAccuracy)).toBeLessThanOrEqual(1 / 300 + 1e-12); // at most one flip from rounding
    const head = debora('export', out, '--run', 'mlp/head/seed0', '--out', path.join(tmp, 'nope'));
    expect(head.code).toBe(1);
    expect(head.stderr).toContain('has no adapters to export in PEFT format; use --format merged');
    const missing = debora('export', out, '--run', 'mlp/dora/seed0', '--out', path.join(tmp, 'nope'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no run 'mlp/dora/seed0'");
    expect(fs.existsSync(path.join(tmp, 'nope'))).toBe(false);
  });

  test('report.html and the SVG plots are written; `debora report` rebuilds them', () => {
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    for (const x of results.runs) expect(html).toContain(`${(100 * x.heldOutAccuracy).toFixed(1)}`);
    const plots = fs.readdirSync(path.join(out, 'plots')).filter((f) => f.endsWith('.svg'));
    expect(plots.length).toBeGreaterThanOrEqual(4);
    fs.rmSync(path.join(out, 'report.html'));
    const again = debora('report', out);
    expect(again.code).toBe(0);
    // Identical but for the time stamp in the footer.
    const stamp = /\d{4}-\d\d-\d\dT[\d:.]+Z/g;
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8').replace(stamp, 'T')).toBe(html.replace(stamp, 'T'));
  });
});

test('text mode: plain progress lines on stderr off a terminal, the results table on stdout', () => {
  const out = path.join(tmp, 'text');
  const r = debora(
    'demo',
    '--models',
    'mlp',
    '--methods',
    'lora-r4,head',
    '--steps',
    '4',
    '--per-class',
    '3',
    '--held-out',
    '100',
    '--out',
    out,
    '--no-report',
  );
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^model +method +seed +held-out acc +adapter params +final ranks +wall s$/m);
  expect(r.stdout).toMatch(/^mlp +lora-r4 +0 +\d+\.\d% +4724 +fc1:4 fc2:4 fc3:4 +\d+\.\d$/m);
  expect(r.stdout).toMatch(/^mlp +head +0 +\d+\.\d% +650 +— +\d+\.\d$/m);
  expect(r.stderr).toContain('[1/2] mlp/lora-r4/seed0: step 4/4 loss');
  expect(r.stderr).not.toContain('\r');
  expect(fs.existsSync(path.join(out, 'report.html'))).toBe(false);
});

function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (cond()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error('timed out'));
      else setTimeout(poll, 50);
    };
    poll();
  });
}

test('Ctrl-C ends the job cleanly: exit 130, a valid run directory that says it was interrupted', async () => {
  const out = path.join(tmp, 'interrupted');
  const child: ChildProcess = spawn(
    process.execPath,
    [cli, 'demo', '--models', 'mlp', '--steps', '100000', '--per-class', '5', '--held-out', '200', '--out', out],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const events = path.join(out, 'events.jsonl');
  await waitFor(() => fs.existsSync(events) && fs.readFileSync(events, 'utf8').split('\n').length > 5, 60_000);
  child.kill('SIGINT');
  expect(await exited).toBe(130);
  expect(stderr).toContain('interrupted');
  const results: RunResults = readJson(path.join(out, 'results.json'));
  expect(results.status).toBe('interrupted');
  expect(results.runs).toHaveLength(1);
  const run = results.runs[0] as ResultRow;
  expect(run.status).toBe('interrupted');
  expect(run.steps).toBeGreaterThanOrEqual(5);
  expect(run.steps).toBeLessThan(100000);
  const lines = fs.readFileSync(events, 'utf8').trimEnd().split('\n');
  expect(lines).toHaveLength(run.steps);
  for (const l of lines) JSON.parse(l);
  expect(fs.existsSync(path.join(out, 'checkpoints', 'mlp-debora-seed0.safetensors'))).toBe(true);
  expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toMatch(/interrupted/i);
}, 120_000);

describe('bad flags and configs: a clear message, a non-zero exit, nothing written', () => {
  test.each([
    [['demo', '--steps', '0'], 2, "--steps expects an integer >= 1, received '0'"],
    [['demo', '--seeds', '1,,2'], 2, "--seeds expects a comma-separated list, received '1,,2'"],
    [
      ['demo', '--methods', 'lora-r99'],
      2,
      "--methods: no method labelled 'lora-r99' (have debora, lora-r4, lora-r16, head, full)",
    ],
    [['demo', '--models', 'resnet'], 1, "JobConfig: expected one of mlp, cnn for field 'models[0]', received 'resnet'"],
    [['demo', '--task', 'imagenet'], 1, "for field 'task', received 'imagenet'"],
    [['demo', '--bogus'], 2, "Unknown option '--bogus'"],
    [['train', 'no-such-config.json'], 2, "cannot read config file 'no-such-config.json' (ENOENT)"],
    [['report', 'no-such-run-dir'], 1, 'no-such-run-dir'],
  ])('debora %j', (args, code, message) => {
    const r = debora(...args, '--out', path.join(tmp, 'never'));
    if (args[0] === 'report') Object.assign(r, debora(...args));
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(message);
    expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
  });

  test('a config file with a bad trainer field names the method and the field', () => {
    const file = path.join(tmp, 'bad.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        models: ['mlp'],
        methods: [{ label: 'x', method: 'debora', rank: 8, trainer: { fw: { tau: -1, epsilon: 1e-3 } } }],
      }),
    );
    const r = debora('train', file, '--out', path.join(tmp, 'never'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('JobConfig methods[0] (model mlp): TrainerConfig');
    expect(r.stderr).toContain("'tau'");
    fs.writeFileSync(file, '{ "seeds": [0, 1], ');
    const j = debora('train', file);
    expect(j.code).toBe(2);
    expect(j.stderr).toContain(`config file '${file}' is not valid JSON`);
  });

  test('an existing non-empty run directory is refused and left as it was', () => {
    const dir = path.join(tmp, 'taken');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'results.json'), '{"keep": true}');
    const r = debora('demo', '--steps', '1', '--out', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('already exists and is not empty');
    expect(fs.readdirSync(dir)).toEqual(['results.json']);
    expect(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')).toBe('{"keep": true}');
  });
});
