/**
 * report.test.ts — the run report (lib/report): reading and validating a run directory (errors
 * name the file, line and field; a cut last events line is tolerated), the statistics and
 * downsampling, each plot rendered to well-formed SVG with the expected marks, and the HTML page
 * (table rows and numbers, status banner, escaping, self-containment, atomic files). Run
 * directories are synthetic, from seeded random data (test/fixtures/report/make-run.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  buildPlots,
  downsample,
  escapeHtml,
  formatCount,
  MAX_POINTS,
  mean,
  PLOT_NAMES,
  type PlotDef,
  parseEvents,
  plotDefs,
  readRunDir,
  renderSpec,
  std,
  summarize,
  validateRunResults,
  writeReport,
} from '../../lib/report';
import { changePoints } from '../../lib/report/stats';
import { Rng } from '../../lib/rng';
import { MODELS, makeRunDir } from '../fixtures/report/make-run';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'debora-report-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function fresh(name: string): string {
  return path.join(tmp, name);
}

function thrown(f: () => unknown): { name: string; code: string; message: string } {
  try {
    f();
  } catch (e) {
    return e as { name: string; code: string; message: string };
  }
  throw new Error('expected a throw');
}

/**
 * A small XML well-formedness check (no XML parser is a dependency): tags balance, attribute
 * values are quoted and hold no '<', text holds no raw '<' and only entity-escaped '&'.
 */
function checkXml(s: string): { root: string; elements: number } {
  const token = /<!--[\s\S]*?-->|<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|</g;
  const stack: string[] = [];
  let root = '';
  let elements = 0;
  let last = 0;
  for (let m = token.exec(s); m !== null; m = token.exec(s)) {
    const text = s.slice(last, m.index);
    if (/&(?!#\d+;|#x[0-9a-fA-F]+;|[a-zA-Z]+;)/.test(text)) throw new Error(`unescaped & near ${m.index}`);
    last = m.index + m[0].length;
    if (m[0].startsWith('<!--')) continue;
    if (m[2] === undefined) throw new Error(`stray '<' at ${m.index}: ${s.slice(m.index, m.index + 40)}`);
    const [, close, name, , selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}> at ${m.index}`);
    } else {
      if (stack.length === 0 && root !== '') throw new Error('more than one root element');
      if (root === '') root = name as string;
      elements++;
      if (!selfClose) stack.push(name as string);
    }
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (s.slice(last).trim() !== '') throw new Error('text after the root element');
  return { root, elements };
}

function count(s: string, re: RegExp): number {
  return (s.match(re) ?? []).length;
}

/** Text of the cells of each row of the table with id `id` (tags stripped, entities kept). */
function tableRows(html: string, id: string): string[][] {
  const table = html.match(new RegExp(`<table[^>]*id="${id}"[^>]*>([\\s\\S]*?)</table>`));
  if (!table) throw new Error(`no table #${id}`);
  const body = (table[1] as string).split('<tbody>')[1] as string;
  return [...body.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((r) =>
    [...(r[1] as string).matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => (c[1] as string).replace(/<[^>]+>/g, '')),
  );
}

describe('readRunDir', () => {
  test('reads a complete run: every event and row, NaN back from null, notes empty', () => {
    const made = makeRunDir(fresh('complete'), { steps: 60 });
    const data = readRunDir(made.dir);
    expect(data.notes).toEqual([]);
    expect(data.events).toHaveLength(made.events);
    expect(data.events).toHaveLength(2 * 3 * 2 * 60);
    expect(data.results.runs).toEqual(made.rows);
    expect(data.results.status).toBe('completed');
    const baseline = data.events.find((e) => e.label === 'lora-r4');
    expect(Number.isNaN(baseline?.lossD1)).toBe(true); // written as null
    expect(baseline?.fw).toBeNull();
    const gap7 = data.events.find((e) => e.label === 'debora' && e.step === 7);
    expect(Number.isNaN(gap7?.fw?.gap)).toBe(true);
    expect(data.events.filter((e) => e.val !== undefined)).toHaveLength(12); // steps 49 of each run
    expect(data.config).toMatchObject({ job: 'synthetic', seeds: [0, 1] });
  });

  test('an interrupted job: the cut last line is dropped with a note naming its line number', () => {
    const made = makeRunDir(fresh('interrupted'), { steps: 40, interrupted: true });
    const data = readRunDir(made.dir);
    expect(data.events).toHaveLength(made.events);
    expect(data.results.status).toBe('interrupted');
    expect(data.results.runs).toHaveLength(11);
    expect(data.notes).toHaveLength(1);
    expect(data.notes[0]).toContain(`line ${made.cutLine}`);
    expect(data.notes[0]).toContain('cut short');
  });

  test('missing or wrong directory, missing results.json: errors name the path and the fix', () => {
    const missing = thrown(() => readRunDir(fresh('nope')));
    expect(missing.name).toBe('DeboraError');
    expect(missing.code).toBe('DEBORA_INVALID_ARG');
    expect(missing.message).toContain(fresh('nope'));
    expect(missing.message).toContain('Fix:');
    const file = fresh('a-file');
    fs.writeFileSync(file, 'x');
    expect(thrown(() => readRunDir(file)).message).toContain(`'${file}' is a file`);
    const empty = fresh('empty');
    fs.mkdirSync(empty);
    const e = thrown(() => readRunDir(empty));
    expect(e.message).toContain(path.join(empty, 'results.json'));
    expect(e.message).toContain('is missing');
    expect(thrown(() => readRunDir('' as string)).message).toContain("argument 'dir'");
  });

  test('malformed results.json and config.json: the error names the file and, for bad fields, the field', () => {
    const made = makeRunDir(fresh('bad-results'), { steps: 5 });
    const resultsFile = path.join(made.dir, 'results.json');
    const good = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));

    fs.writeFileSync(resultsFile, '{"status": "completed", ');
    const notJson = thrown(() => readRunDir(made.dir));
    expect(notJson.message).toContain(`malformed file '${resultsFile}'`);
    expect(notJson.message).toContain('not valid JSON');

    const bad = structuredClone(good);
    bad.runs[1].heldOutAccuracy = 93.5; // a percentage where a fraction belongs
    fs.writeFileSync(resultsFile, JSON.stringify(bad));
    const field = thrown(() => readRunDir(made.dir));
    expect(field.message).toContain(resultsFile);
    expect(field.message).toContain("field 'runs[1].heldOutAccuracy'");
    expect(field.message).toContain('in [0, 1]');
    expect(field.message).toContain('received 93.5');

    const badStatus = { ...good, status: 'done' };
    expect(thrown(() => validateRunResults(badStatus, 'r.json')).message).toContain(
      "expected 'running' or 'completed' or 'interrupted' for field 'status', received 'done'",
    );
    const badRanks = structuredClone(good);
    badRanks.runs[0].ranks = { fc1: 2.5 };
    expect(thrown(() => validateRunResults(badRanks, 'r.json')).message).toContain("field 'runs[0].ranks.fc1'");
    expect(thrown(() => validateRunResults({ ...good, startedAt: 'yesterday' })).message).toContain("'startedAt'");
    expect(thrown(() => validateRunResults([])).message).toContain('(top level)');

    fs.writeFileSync(resultsFile, JSON.stringify(good));
    fs.writeFileSync(path.join(made.dir, 'config.json'), '{nope');
    expect(thrown(() => readRunDir(made.dir)).message).toContain(
      `malformed file '${path.join(made.dir, 'config.json')}'`,
    );
  });

  test('missing events.jsonl and config.json are notes, not errors', () => {
    const made = makeRunDir(fresh('no-events'), { steps: 5 });
    fs.rmSync(path.join(made.dir, 'events.jsonl'));
    fs.rmSync(path.join(made.dir, 'config.json'));
    const data = readRunDir(made.dir);
    expect(data.events).toEqual([]);
    expect(data.config).toBeUndefined();
    expect(data.notes.join(' ')).toMatch(/events\.jsonl is missing.*config\.json is missing/);
  });
});

describe('parseEvents', () => {
  const made = makeRunDir(path.join(os.tmpdir(), `debora-report-lines-${process.pid}`), { steps: 3 });
  const lines = fs.readFileSync(path.join(made.dir, 'events.jsonl'), 'utf8').trimEnd().split('\n');
  afterAll(() => fs.rmSync(made.dir, { recursive: true, force: true }));

  test('an invalid line in the middle is an error naming the file and its line number', () => {
    const text = [...lines.slice(0, 4), '{"step": 3, "lo', ...lines.slice(4)].join('\n');
    const e = thrown(() => parseEvents(text, 'runs/x/events.jsonl'));
    expect(e.code).toBe('DEBORA_INVALID_ARG');
    expect(e.message).toContain("malformed line 5 of 'runs/x/events.jsonl'");
    expect(e.message).toContain('not valid JSON');
  });

  test('a bad last line that ends with a newline is complete, so it is an error, not a cut', () => {
    const text = `${[...lines, '{"step": 3, "lo'].join('\n')}\n`;
    expect(thrown(() => parseEvents(text)).message).toContain(`malformed line ${lines.length + 1}`);
  });

  test('field errors name line and field; blank lines and CRLF are accepted', () => {
    const ev = JSON.parse(lines[2] as string);
    const text = [lines[0], '', `${lines[1]}\r`, JSON.stringify({ ...ev, step: -1 })].join('\n');
    const e = thrown(() => parseEvents(`${text}\n`, 'ev.jsonl'));
    expect(e.message).toContain(
      "malformed line 4 of 'ev.jsonl': expected an integer >= 0 for field 'step', received -1",
    );
    const noRun = { ...ev };
    delete noRun.run;
    expect(thrown(() => parseEvents(JSON.stringify(noRun))).message).toContain(
      "expected a string for field 'run', received undefined",
    );
    const badFw = { ...JSON.parse(lines[0] as string), fw: { gap: 'big' } };
    expect(thrown(() => parseEvents(JSON.stringify(badFw))).message).toContain("field 'fw.gap'");
    expect(parseEvents([lines[0], '', `${lines[1]}\r`].join('\n')).events).toHaveLength(2);
  });

  test('a cut last line is dropped, a complete last line without newline is kept', () => {
    const cut = parseEvents(`${lines.slice(0, 3).join('\n')}\n${(lines[3] as string).slice(0, 20)}`);
    expect(cut.events).toHaveLength(3);
    expect(cut.notes[0]).toContain('line 4');
    const whole = parseEvents(lines.slice(0, 4).join('\n'));
    expect(whole.events).toHaveLength(4);
    expect(whole.notes).toEqual([]);
  });
});

describe('stats', () => {
  test('mean and sample std skip non-finite values', () => {
    expect(mean([1, 2, 3, Number.NaN])).toBe(2);
    expect(std([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(Number.isNaN(std([1]))).toBe(true);
    expect(Number.isNaN(mean([]))).toBe(true);
  });

  test('downsample: at most MAX_POINTS bins, sums preserved, steps increasing; geometric drops non-positive', () => {
    const rng = new Rng(3);
    const pts = Array.from({ length: 1013 }, (_, i) => ({ step: i, value: 1 + rng.next() }));
    const d = downsample(pts, MAX_POINTS);
    expect(d).toHaveLength(MAX_POINTS);
    for (let i = 1; i < d.length; i++)
      expect((d[i] as { step: number }).step).toBeGreaterThan(d[i - 1]?.step as number);
    // Equal-count bins of sizes 5 and 6: the bin-size-weighted mean equals the overall mean.
    const sizes = d.map((_, b) => Math.floor(((b + 1) * 1013) / 200) - Math.floor((b * 1013) / 200));
    const weighted = d.reduce((s, p, b) => s + p.value * (sizes[b] as number), 0) / 1013;
    expect(weighted).toBeCloseTo(mean(pts.map((p) => p.value)), 10);
    const withBad = [...pts.slice(0, 10), { step: 10, value: 0 }, { step: 11, value: Number.NaN }];
    expect(downsample(withBad, MAX_POINTS, true)).toHaveLength(10);
    expect(downsample(withBad, MAX_POINTS, false)).toHaveLength(11);
    const geo = downsample(
      Array.from({ length: 400 }, (_, i) => ({ step: i, value: i % 2 === 0 ? 1e-6 : 1 })),
      200,
      true,
    );
    expect(geo[0]?.value).toBeCloseTo(1e-3, 12);
  });

  test('changePoints keeps first, last and every change', () => {
    const v = [8, 8, 8, 7, 7, 5, 5, 5];
    const cp = changePoints(v.map((value, step) => ({ step, value })));
    expect(cp.map((p) => [p.step, p.value])).toEqual([
      [0, 8],
      [3, 7],
      [5, 5],
      [7, 5],
    ]);
  });

  test('summarize groups by model and method over seeds', () => {
    const made = makeRunDir(fresh('summary'), { steps: 3 });
    const groups = summarize(made.rows);
    expect(groups).toHaveLength(6);
    const g = groups.find((x) => x.model === 'cnn' && x.method === 'lora-r4');
    const accs = made.rows.filter((r) => r.model === 'cnn' && r.method === 'lora-r4').map((r) => r.heldOutAccuracy);
    expect(g?.seeds).toEqual([0, 1]);
    expect(g?.accuracyMean).toBeCloseTo(((accs[0] as number) + (accs[1] as number)) / 2, 14);
    expect(g?.accuracyStd).toBeCloseTo(Math.abs((accs[0] as number) - (accs[1] as number)) / Math.SQRT2, 14);
  });
});

describe('plots', () => {
  let made: ReturnType<typeof makeRunDir>;
  let svgs: Record<string, string>;
  beforeAll(async () => {
    made = makeRunDir(fresh('plots'), { steps: 300, interrupted: true });
    svgs = await buildPlots(readRunDir(made.dir));
  });

  test('every plot is drawn, as well-formed SVG with no NaN coordinates or scripts', () => {
    expect(Object.keys(svgs)).toEqual([...PLOT_NAMES]);
    for (const [name, svg] of Object.entries(svgs)) {
      const { root, elements } = checkXml(svg);
      expect({ name, root }).toEqual({ name, root: 'svg' });
      expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
      expect(elements).toBeGreaterThan(50);
      expect(svg).not.toMatch(/NaN|Infinity|<script|<foreignObject|<image/);
    }
  });

  test('loss: one line per run, each downsampled to at most MAX_POINTS vertices', () => {
    const svg = svgs.loss as string;
    expect(count(svg, /aria-roledescription="line mark"/g)).toBe(12); // 2 models × 3 methods × 2 seeds
    const ds = [...svg.matchAll(/aria-roledescription="line mark" d="([^"]*)"/g)].map((m) => m[1] as string);
    for (const d of ds) {
      const vertices = count(d, /[ML]/g);
      expect(vertices).toBeGreaterThan(100);
      expect(vertices).toBeLessThanOrEqual(MAX_POINTS);
    }
    expect(svg).toContain('mlp/debora/seed0');
  });

  test('fw-gap: only the dEBORA runs; zero and NaN gaps left out of the data', () => {
    const svg = svgs['fw-gap'] as string;
    expect(count(svg, /aria-roledescription="line mark"/g)).toBe(4);
    expect(svg).not.toContain('lora-r4/seed');
    // A short run is not downsampled, so the plotted steps are the event steps: 5 (gap 0) and
    // 7 (gap NaN) must be missing, their neighbours present.
    const short = makeRunDir(fresh('plots-short'), { steps: 40 });
    const def = plotDefs(readRunDir(short.dir)).find((d) => d.name === 'fw-gap') as PlotDef;
    const values = (def.spec as unknown as { data: { values: Array<{ run: string; step: number }> } }).data.values;
    const steps = values.filter((v) => v.run === 'mlp/debora/seed0').map((v) => v.step);
    expect(steps.slice(0, 8)).toEqual([0, 1, 2, 3, 4, 6, 8, 9]);
    expect(steps).toHaveLength(38);
  });

  test('ranks: one line per layer of each dEBORA run, step-after', () => {
    const svg = svgs.ranks as string;
    const layers = Object.values(MODELS).reduce((s, l) => s + 2 * l.length, 0);
    expect(count(svg, /aria-roledescription="line mark"/g)).toBe(layers);
    for (const layer of ['fc1', 'fc2', 'conv1', 'conv2', 'fc']) expect(svg).toContain(`layer: ${layer}`);
    // Panels go model by model, whatever order the runs were written in (the runner goes seed by seed).
    const data = readRunDir(made.dir);
    const def = plotDefs({ ...data, events: [...data.events].reverse() }).find((d) => d.name === 'ranks') as PlotDef;
    const spec = def.spec as unknown as { facet: { sort: string[] }; columns: number };
    expect(spec.facet.sort).toEqual(['mlp/debora/seed0', 'mlp/debora/seed1', 'cnn/debora/seed0', 'cnn/debora/seed1']);
    expect(spec.columns).toBe(2);
  });

  test('accuracy-params: a point per result row and a mean with error bars per group of seeds', async () => {
    const svg = svgs['accuracy-params'] as string;
    // 11 rows (the interrupted job's last run has none) + 5 groups with 2 seeds (cnn/full has 1).
    expect(count(svg, /aria-roledescription="point"/g)).toBe(11 + 5);
    // A ±std bar per group of seeds, and a parameter-range bar where the seeds' counts differ.
    const groups = summarize(made.rows).filter((g) => g.seeds.length > 1);
    const ranged = groups.filter((g) => g.paramsMax > g.paramsMin).length;
    expect(ranged).toBeGreaterThan(0);
    expect(count(svg, /aria-roledescription="rule mark"/g)).toBe(groups.length + ranged);
    // Zero-shot 41% and 39% are far below every run (70–95%): not drawn, so the points keep the axis.
    expect(svg).not.toContain('zero-shot');
    const data = readRunDir(made.dir);
    data.results.zeroShot = { mlp: 0.7, cnn: 0.2 }; // lowest run: 77.4%
    const def = plotDefs(data).find((d) => d.name === 'accuracy-params') as PlotDef;
    const near = (await renderSpec(def.spec as NonNullable<PlotDef['spec']>, 'z')).svg;
    expect(near).toContain('zero-shot mlp');
    expect(near).not.toContain('zero-shot cnn');
    expect(count(near, /aria-roledescription="rule mark"/g)).toBe(count(svg, /aria-roledescription="rule mark"/g) + 1);
  });

  test('val-accuracy: points at the evaluated steps only', () => {
    const svg = svgs['val-accuracy'] as string;
    expect(count(svg, /aria-roledescription="line mark"/g)).toBe(12);
    // Steps 49, 99, …, 299 in each of 12 runs; the interrupted run's cut line is step 299.
    expect(count(svg, /aria-roledescription="point"/g)).toBe(12 * 6 - 1);
  });

  test('vega-lite and vega give no warning on these specs', async () => {
    for (const def of plotDefs(readRunDir(made.dir))) {
      if (def.spec === null) throw new Error(`${def.name} skipped: ${def.skipped}`);
      expect({ name: def.name, warnings: (await renderSpec(def.spec, 'x')).warnings }).toEqual({
        name: def.name,
        warnings: [],
      });
    }
  });

  test('without events and results rows every plot is skipped with its sentence', () => {
    const data = readRunDir(made.dir);
    const defs = plotDefs({ ...data, events: [], results: { ...data.results, runs: [] } });
    for (const d of defs) {
      expect(d.spec).toBeNull();
      expect(d.skipped).toMatch(/^Not drawn: /);
    }
    const onlyBaselines = plotDefs({ ...data, events: data.events.filter((e) => e.fw === null) });
    expect(onlyBaselines.find((d) => d.name === 'fw-gap')?.skipped).toContain('no dEBORA run');
    expect(onlyBaselines.find((d) => d.name === 'ranks')?.skipped).toContain('no dEBORA run');
    expect(onlyBaselines.find((d) => d.name === 'loss')?.spec).not.toBeNull();
  });
});

describe('writeReport', () => {
  const fixed = { generatedAt: new Date('2025-03-02T00:00:00Z') };

  test('writes report.html and the SVGs atomically; the tables hold every row with its numbers', async () => {
    const made = makeRunDir(fresh('report'), { steps: 120, interrupted: true });
    const out = await writeReport(made.dir, fixed);
    expect(out.html).toBe(path.join(made.dir, 'report.html'));
    expect(out.plots).toEqual(PLOT_NAMES.map((n) => path.join(made.dir, 'plots', `${n}.svg`)));
    expect(out.warnings).toEqual([]);
    for (const f of [out.html, ...out.plots]) expect(fs.statSync(f).size).toBeGreaterThan(1000);
    // No temporary file left behind by the write-then-rename.
    expect(fs.readdirSync(made.dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    expect(fs.readdirSync(path.join(made.dir, 'plots')).filter((f) => f.includes('.tmp'))).toEqual([]);

    const html = fs.readFileSync(out.html, 'utf8');
    const rows = tableRows(html, 'results-table');
    expect(rows).toHaveLength(made.rows.length);
    made.rows.forEach((r, i) => {
      const ranks = Object.entries(r.ranks);
      expect(rows[i]).toEqual([
        r.model,
        r.method,
        String(r.seed),
        (r.heldOutAccuracy * 100).toFixed(1),
        r.adapterParams.toLocaleString('en-US'),
        ranks.length === 0 ? '—' : ranks.map(([k, v]) => `${k}: ${v}`).join(', '),
        String(r.steps),
        r.wallSeconds.toFixed(1),
        r.status,
      ]);
    });
    expect(html).toContain('<tr class="interrupted">');

    const summary = tableRows(html, 'summary-table');
    expect(summary).toHaveLength(6);
    const mlpDebora = made.rows.filter((r) => r.model === 'mlp' && r.method === 'debora');
    const a = mlpDebora.map((r) => 100 * r.heldOutAccuracy);
    const m = ((a[0] as number) + (a[1] as number)) / 2;
    const s = Math.abs((a[0] as number) - (a[1] as number)) / Math.SQRT2;
    expect(summary[0]?.slice(0, 4)).toEqual(['mlp', 'debora', '2', `${m.toFixed(1)} ± ${s.toFixed(1)}`]);
    expect(summary[5]?.slice(0, 3)).toEqual(['cnn', 'full', '1 (1 interrupted)']);
    expect(tableRows(html, 'zero-shot-table')).toEqual([
      ['mlp', '41.2'],
      ['cnn', '38.7'],
    ]);

    expect(html).toMatch(/class="banner status-interrupted"[^>]*><strong>Interrupted\.<\/strong>/);
    expect(html).toContain('cnn/full/seed1'); // events without a results row are named
    expect(html).toContain(`line ${made.cutLine}`);
    expect(html).toContain('2025-03-02T00:00:00.000Z');
  });

  test('the page is self-contained: inline SVGs with unique ids, no scripts, no external resources', async () => {
    const made = makeRunDir(fresh('self'), { steps: 60 });
    const html = fs.readFileSync((await writeReport(made.dir, fixed)).html, 'utf8');
    // Deterministic: rebuilding gives the same bytes (`debora report` after the job relies on it).
    expect(fs.readFileSync((await writeReport(made.dir, fixed)).html, 'utf8')).toBe(html);
    checkXml(html.replace(/^<!doctype html>\n/, '').replace(/<meta[^>]*>/g, ''));
    expect(count(html, /<svg /g)).toBe(PLOT_NAMES.length);
    expect(html).toMatch(/class="banner status-completed"[^>]*><strong>Completed\.<\/strong>/);
    expect(html).not.toMatch(/<script|<link|<iframe|<img|\bsrc=|@import|javascript:/i);
    // The only URLs are XML namespace names, which browsers never fetch.
    const urls = [...new Set(html.match(/https?:\/\/[^\s"'<>)]+/g) ?? [])];
    expect(urls.sort()).toEqual(['http://www.w3.org/1999/xlink', 'http://www.w3.org/2000/svg']);
    const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((x) => x[1]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const ref of html.matchAll(/url\(#([^)]+)\)/g)) expect(ids).toContain(ref[1]);
    expect(html).toContain('<details><summary>config.json</summary>');
    expect(html).toContain('&#34;job&#34;: &#34;synthetic&#34;');
  });

  test('text from the files is escaped: labels, models and config cannot inject markup', async () => {
    const evil = '<script>alert(1)</script>';
    const made = makeRunDir(fresh('escape'), { steps: 20, labels: [evil, 'lora "r4" & co', "it's <b>"] });
    fs.writeFileSync(path.join(made.dir, 'config.json'), JSON.stringify({ note: '</pre><script>x()</script>' }));
    const out = await writeReport(made.dir, fixed);
    const html = fs.readFileSync(out.html, 'utf8');
    expect(html).not.toMatch(/<script|<b>/i);
    expect(html).toContain(escapeHtml(evil));
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html).toContain('lora &#34;r4&#34; &#38; co');
    expect(html).toContain('&#60;/pre&#62;&#60;script&#62;x()');
    expect(tableRows(html, 'results-table')[0]?.[1]).toBe(escapeHtml(evil));
    for (const f of out.plots) expect(fs.readFileSync(f, 'utf8')).not.toMatch(/<script|<b>/i);
  });

  test('a running job says so; plots that lose their data lose their stale SVG', async () => {
    const made = makeRunDir(fresh('running'), { steps: 20 });
    await writeReport(made.dir, fixed);
    const resultsFile = path.join(made.dir, 'results.json');
    const r = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
    fs.writeFileSync(resultsFile, JSON.stringify({ ...r, status: 'running', finishedAt: undefined }));
    fs.rmSync(path.join(made.dir, 'events.jsonl'));
    const out = await writeReport(made.dir, fixed);
    expect(out.plots).toEqual([path.join(made.dir, 'plots', 'accuracy-params.svg')]);
    expect(fs.readdirSync(path.join(made.dir, 'plots'))).toEqual(['accuracy-params.svg']);
    const html = fs.readFileSync(out.html, 'utf8');
    expect(html).toMatch(/<strong>Running\.<\/strong>/);
    expect(count(html, /<p class="skipped">Not drawn: there are no training events/g)).toBe(4);
    expect(html).toContain('events.jsonl is missing');
  });

  test('an invalid run directory writes nothing', async () => {
    const made = makeRunDir(fresh('invalid'), { steps: 5 });
    fs.appendFileSync(path.join(made.dir, 'events.jsonl'), 'garbage\n{}\n');
    await expect(writeReport(made.dir)).rejects.toMatchObject({
      code: 'DEBORA_INVALID_ARG',
      message: expect.stringContaining(`malformed line ${made.events + 1}`),
    });
    expect(fs.existsSync(path.join(made.dir, 'report.html'))).toBe(false);
    expect(fs.existsSync(path.join(made.dir, 'plots'))).toBe(false);
  });

  test('formatCount groups thousands whatever the locale', () => {
    expect([0, 999, 1000, 1234567, -25000].map(formatCount)).toEqual(['0', '999', '1,000', '1,234,567', '-25,000']);
  });
});
