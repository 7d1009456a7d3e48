/**
 * peft.test.ts — exportPeft / importPeft (lib/io/peft.ts): the PEFT files' structure (keys, shapes,
 * config fields with the ranks left after pruning), the fold B·A·(alpha/r) = U diag(s) Vᵀ against a
 * float64 reference, the CP conv file (factors, s, merged ΔK, metadata), round trips (export → import
 * into a fresh model computes the same function), foreign LoRA files (alpha/r and rsLoRA scaling,
 * rank-deficient and untrained B = 0), and the errors (unknown or missing names, bad names, shapes,
 * configs), each leaving the model and the directory unchanged.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CP_ADAPTERS_FILE,
  CP_FORMAT,
  exportPeft,
  importPeft,
  PEFT_CONFIG_FILE,
  PEFT_WEIGHTS_FILE,
} from '../../lib/io/peft';
import { readSafetensors, writeSafetensors } from '../../lib/io/safetensors';
import { Flatten, ReLU } from '../../lib/nn/activation';
import type { CpAdapter } from '../../lib/nn/adapter';
import { adaptersOf, attachAdapters } from '../../lib/nn/attach';
import { Conv2d } from '../../lib/nn/conv2d';
import { Linear } from '../../lib/nn/linear';
import type { Module } from '../../lib/nn/module';
import { Sequential } from '../../lib/nn/sequential';
import { expectErr } from '../helpers/errors';
import { uniform } from '../helpers/random';
import { abs64, materialize64, worstRatio } from '../helpers/reference_dense';

const u32 = 2 ** -24;

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'debora-peft-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** conv (2→4, 3×3, stride 2, pad 1) → relu → flatten → fc1 (36→7) → relu → fc2 (7→5); same seeds, same base. */
function net(): Sequential {
  return new Sequential([
    ['conv', new Conv2d(2, 4, 3, { stride: 2, padding: 1, seed: 1 })],
    ['relu1', new ReLU()],
    ['flat', new Flatten()],
    ['fc1', new Linear(36, 7, { seed: 2 })],
    ['relu2', new ReLU()],
    ['fc2', new Linear(7, 5, { seed: 3 })],
  ]);
}

const NAMES = { conv: 'features.0', fc1: 'classifier.0', fc2: 'classifier.2' };

/** The net with stiefel adapters of rank 4, fc2 pruned to rank 2, distinct random s. */
function adaptedNet(): { model: Sequential; ads: Map<string, CpAdapter> } {
  const model = net();
  const ads = attachAdapters(model, { targets: ['conv', 'fc1', 'fc2'], rank: 4, sInit: 0.5, seed: 7 });
  (ads.get('fc2') as CpAdapter).prune([0, 2]);
  [...ads.values()].forEach((a, k) => {
    a.s.data.set(uniform(50 + k, a.rank, 0.1, 1.2));
  });
  return { model, ads };
}

const input = () => ({ data: uniform(61, 3 * 2 * 6 * 6, -1, 1), shape: [3, 2, 6, 6] });

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** B·A·scale in float64 (B out×r, A r×in). */
function product(B: ArrayLike<number>, A: ArrayLike<number>, nOut: number, nIn: number, r: number, scale: number) {
  const out = new Float64Array(nOut * nIn);
  for (let o = 0; o < nOut; o++)
    for (let j = 0; j < nIn; j++) {
      let acc = 0;
      for (let i = 0; i < r; i++) acc += (B[o * r + i] as number) * (A[i * nIn + j] as number);
      out[o * nIn + j] = scale * acc;
    }
  return out;
}

function psiOf(a: CpAdapter): { psi: Float64Array; psiAbs: Float64Array } {
  const fs64 = a.factors.map((f) => f.data);
  return {
    psi: materialize64(fs64, a.s.data, a.modeSizes),
    psiAbs: materialize64(fs64.map(abs64), abs64(a.s.data), a.modeSizes),
  };
}

describe('exportPeft: file structure', () => {
  test('adapter_config.json has the PEFT LoRA fields with the ranks left after pruning', () => {
    const { model } = adaptedNet();
    const res = exportPeft(model, tmp, { moduleNames: NAMES, baseModel: 'me/base-mlp', alpha: 16 });
    expect(res.files).toEqual([CP_ADAPTERS_FILE, PEFT_WEIGHTS_FILE, PEFT_CONFIG_FILE].map((f) => path.join(tmp, f)));
    expect(fs.readdirSync(tmp).sort()).toEqual([CP_ADAPTERS_FILE, PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE].sort());
    const cfg = JSON.parse(fs.readFileSync(path.join(tmp, PEFT_CONFIG_FILE), 'utf8'));
    expect(cfg).toEqual({
      alpha_pattern: { 'classifier.0': 16, 'classifier.2': 16 },
      auto_mapping: null,
      base_model_name_or_path: 'me/base-mlp',
      bias: 'none',
      fan_in_fan_out: false,
      inference_mode: true,
      init_lora_weights: true,
      layers_pattern: null,
      layers_to_transform: null,
      lora_alpha: 16,
      lora_dropout: 0,
      modules_to_save: null,
      peft_type: 'LORA',
      r: 4, // ranks 4 and 2 once each: the larger
      rank_pattern: { 'classifier.0': 4, 'classifier.2': 2 },
      revision: null,
      target_modules: ['classifier.0', 'classifier.2'],
      task_type: null,
      use_rslora: false,
    });
    // Sorted keys, as PEFT's save_pretrained writes them.
    expect(Object.keys(cfg)).toEqual(Object.keys(cfg).sort());
    expect(res.lora.map((m) => [m.layer, m.module, m.rank, m.alpha, m.scale])).toEqual([
      ['fc1', 'classifier.0', 4, 16, 4],
      ['fc2', 'classifier.2', 2, 16, 8],
    ]);
    expect(res.conv.map((m) => [m.layer, m.module, m.rank])).toEqual([['conv', 'features.0', 4]]);
  });

  test('adapter_model.safetensors: lora_A (r × in), lora_B (out × r) with B·A·scale = U diag(s) Vᵀ', () => {
    const { model, ads } = adaptedNet();
    for (const alpha of [undefined, 16, 0.5]) {
      exportPeft(model, tmp, alpha === undefined ? { moduleNames: NAMES } : { moduleNames: NAMES, alpha });
      const { tensors, metadata } = readSafetensors(path.join(tmp, PEFT_WEIGHTS_FILE));
      expect(metadata.format).toBe('pt');
      expect([...tensors.keys()].sort()).toEqual([
        'base_model.model.classifier.0.lora_A.weight',
        'base_model.model.classifier.0.lora_B.weight',
        'base_model.model.classifier.2.lora_A.weight',
        'base_model.model.classifier.2.lora_B.weight',
      ]);
      const cfg = JSON.parse(fs.readFileSync(path.join(tmp, PEFT_CONFIG_FILE), 'utf8'));
      for (const [layer, module] of [
        ['fc1', 'classifier.0'],
        ['fc2', 'classifier.2'],
      ] as const) {
        const a = ads.get(layer) as CpAdapter;
        const [nOut, nIn] = a.modeSizes as [number, number];
        const r = a.rank;
        const A = tensors.get(`base_model.model.${module}.lora_A.weight`);
        const B = tensors.get(`base_model.model.${module}.lora_B.weight`);
        expect(A?.dtype).toBe('F32');
        expect(A?.shape).toEqual([r, nIn]);
        expect(B?.shape).toEqual([nOut, r]);
        const Ad = (A as { data: Float32Array }).data;
        const Bd = (B as { data: Float32Array }).data;
        // The scale PEFT will use, from the config alone.
        expect(cfg.rank_pattern[module]).toBe(r);
        const scale = cfg.alpha_pattern[module] / cfg.rank_pattern[module];
        expect(scale).toBe(alpha === undefined ? 1 : alpha / r);
        const { psi, psiAbs } = psiOf(a);
        const got = product(Bd, Ad, nOut, nIn, r, scale);
        // A and B are float32 roundings of exact float64 values (one rounding each, plus one in √):
        // each term of B·A·scale is within 4u of s_i·u_i·v_i.
        expect(worstRatio(got, psi, (j) => 4 * u32 * (psiAbs[j] as number))).toBeLessThanOrEqual(1);
        // Able to fail: leaving s out (or folding it twice) is far outside the bound.
        expect(
          worstRatio(product(Bd, Ad, nOut, nIn, r, 2 * scale), psi, (j) => 4 * u32 * (psiAbs[j] as number)),
        ).toBeGreaterThan(100);
        // The split is balanced: column i of B and row i of A have the same norm (stiefel factors).
        for (let i = 0; i < r; i++) {
          let nb = 0;
          let na = 0;
          for (let o = 0; o < nOut; o++) nb += (Bd[o * r + i] as number) ** 2;
          for (let j = 0; j < nIn; j++) na += (Ad[i * nIn + j] as number) ** 2;
          expect(Math.abs(Math.sqrt(nb) - Math.sqrt(na))).toBeLessThan(1e-5 * Math.sqrt(na));
        }
      }
    }
  });

  test('negative s keeps its sign in lora_B', () => {
    const fc = new Linear(5, 4, { seed: 9 });
    const model = new Sequential([['fc', fc]]);
    const a = attachAdapters(model, { targets: 'fc', rank: 3, geometry: 'euclidean', init: 'small', seed: 1 }).get(
      'fc',
    ) as CpAdapter;
    a.s.data.set([0.7, -0.4, 1.3]);
    exportPeft(model, tmp, { moduleNames: { fc: 'lin' }, alpha: 3 });
    const t = readSafetensors(path.join(tmp, PEFT_WEIGHTS_FILE)).tensors;
    const A = t.get('base_model.model.lin.lora_A.weight')?.data as Float32Array;
    const B = t.get('base_model.model.lin.lora_B.weight')?.data as Float32Array;
    const { psi, psiAbs } = psiOf(a);
    expect(worstRatio(product(B, A, 4, 5, 3, 1), psi, (j) => 4 * u32 * (psiAbs[j] as number))).toBeLessThanOrEqual(1);
  });

  test('the CP conv file: factors, s, merged ΔK and metadata describing them', () => {
    const { model, ads } = adaptedNet();
    exportPeft(model, tmp, { moduleNames: NAMES });
    const { tensors, metadata } = readSafetensors(path.join(tmp, CP_ADAPTERS_FILE));
    const a = ads.get('conv') as CpAdapter;
    expect([...tensors.keys()].sort()).toEqual(
      ['cp.U1', 'cp.U2', 'cp.U3', 'cp.U4', 'cp.s', 'delta_weight'].map((k) => `features.0.${k}`),
    );
    a.factors.forEach((f, k) => {
      const t = tensors.get(`features.0.cp.U${k + 1}`);
      expect(t?.shape).toEqual([a.modeSizes[k], 4]);
      expect(Array.from(t?.data as Float32Array)).toEqual(Array.from(f.data));
    });
    expect(Array.from(tensors.get('features.0.cp.s')?.data as Float32Array)).toEqual(Array.from(a.s.data));
    const dk = tensors.get('features.0.delta_weight');
    expect(dk?.shape).toEqual([4, 2, 3, 3]);
    const { psi, psiAbs } = psiOf(a);
    // cp_materialize: r products of 5 factors and r − 1 additions per element.
    expect(worstRatio(dk?.data as Float32Array, psi, (j) => (4 + 5) * u32 * (psiAbs[j] as number))).toBeLessThanOrEqual(
      1,
    );
    expect(metadata['debora.format']).toBe(CP_FORMAT);
    expect(metadata.format).toBe('pt');
    expect(metadata['debora.layout']).toMatch(/delta_weight \[F, C, kh, kw\]/);
    expect(JSON.parse(metadata['debora.layers'] as string)).toEqual([
      {
        module: 'features.0',
        layer: 'conv',
        rank: 4,
        modeSizes: [4, 2, 3, 3],
        geometry: 'stiefel',
        modeGeometries: ['stiefel', 'oblique', 'oblique', 'oblique'],
        stride: [2, 2],
        padding: [1, 1],
        dilation: [1, 1],
      },
    ]);
  });

  test('a function for moduleNames; rank-0 Linear adapters are skipped; stale files of a previous export go', () => {
    const { model, ads } = adaptedNet();
    exportPeft(model, tmp, { moduleNames: NAMES });
    (ads.get('fc1') as CpAdapter).prune([]);
    (ads.get('fc2') as CpAdapter).prune([]);
    const res = exportPeft(model, tmp, { moduleNames: (l) => `net.${l}` });
    expect(res.skipped.map((m) => [m.layer, m.module, m.rank])).toEqual([
      ['fc1', 'net.fc1', 0],
      ['fc2', 'net.fc2', 0],
    ]);
    expect(res.lora).toEqual([]);
    expect(fs.readdirSync(tmp)).toEqual([CP_ADAPTERS_FILE]);
    expect([...readSafetensors(path.join(tmp, CP_ADAPTERS_FILE)).tensors.keys()][0]).toMatch(/^net\.conv\./);
  });

  test('module names where one is a suffix of another get the right ranks; a wildcard clash is refused', () => {
    const model = new Sequential([
      ['a', new Linear(4, 4, { seed: 1 })],
      ['b', new Linear(4, 4, { seed: 2 })],
    ]);
    const ads = attachAdapters(model, { targets: ['a', 'b'], rank: 3, sInit: 0.3 });
    (ads.get('b') as CpAdapter).prune([1]);
    exportPeft(model, tmp, { moduleNames: { a: 'fc', b: 'enc.fc' } });
    const cfg = JSON.parse(fs.readFileSync(path.join(tmp, PEFT_CONFIG_FILE), 'utf8'));
    // Longest first: PEFT's first-match lookup finds 'enc.fc' for enc.fc, and only 'fc' matches fc.
    expect(Object.keys(cfg.rank_pattern)).toEqual(['enc.fc', 'fc']);
    expect(cfg.rank_pattern).toEqual({ 'enc.fc': 1, fc: 3 });
    const before = fs.readdirSync(tmp).map((f) => [f, fs.readFileSync(path.join(tmp, f))]);
    // 'a.b' is a regular expression that also matches 'a_b'.
    expectErr(
      () => exportPeft(model, tmp, { moduleNames: { a: 'a_b', b: 'a.b' } }),
      'DEBORA_INVALID_CONFIG',
      /PEFT would give module 'a_b' the rank\/alpha of pattern 'a\.b'/,
    );
    expect(fs.readdirSync(tmp).map((f) => [f, fs.readFileSync(path.join(tmp, f))])).toEqual(before);
  });
});

describe('importPeft: round trips and foreign files', () => {
  test('export → import into a fresh model: same function, same Ψ, orthonormal factors, s recovered', () => {
    const { model, ads } = adaptedNet();
    const x = input();
    const y0 = model.forward(x).data.slice();
    exportPeft(model, tmp, { moduleNames: NAMES, alpha: 8 });
    const fresh = net();
    const got = importPeft(fresh, tmp, { moduleNames: NAMES });
    expect([...got.keys()].sort()).toEqual(['conv', 'fc1', 'fc2']);
    expect([...adaptersOf(fresh).keys()]).toEqual(['conv', 'fc1', 'fc2']);
    for (const [name, b] of got) {
      const a = ads.get(name) as CpAdapter;
      expect(b.rank).toBe(a.rank);
      const { psi, psiAbs } = psiOf(a);
      const back = psiOf(b);
      // Float32 A, B (one rounding each), then float32 U', V', s' (one each): 8u of both scales.
      expect(
        worstRatio(back.psi, psi, (j) => 8 * u32 * ((psiAbs[j] as number) + (back.psiAbs[j] as number))),
      ).toBeLessThanOrEqual(1);
      if (name === 'conv') {
        a.factors.forEach((f, k) => {
          expect(Array.from((b.factors[k] as { data: Float32Array }).data)).toEqual(Array.from(f.data));
        });
        continue;
      }
      // U diag(s) Vᵀ with orthonormal U, V is an SVD: the imported s are the original ones, sorted.
      const sorted = Array.from(a.s.data).sort((p, q) => q - p);
      Array.from(b.s.data).forEach((v, i) => {
        expect(Math.abs(v - (sorted[i] as number))).toBeLessThan(1e-6);
      });
      for (const [k, f] of b.factors.entries()) {
        const n = b.modeSizes[k] as number;
        const r = b.rank;
        for (let p = 0; p < r; p++)
          for (let q = 0; q < r; q++) {
            let d = 0;
            for (let i = 0; i < n; i++) d += (f.data[i * r + p] as number) * (f.data[i * r + q] as number);
            expect(Math.abs(d - (p === q ? 1 : 0))).toBeLessThan(1e-6);
          }
      }
    }
    const y1 = fresh.forward(x).data;
    // Ψ agrees elementwise to a few float32 ulps (above); through two layers the outputs (≈1 in size)
    // then agree to ~1e-6: 1e-5 leaves margin and is far below the adapters' effect (checked below).
    expect(maxAbsDiff(y1, y0)).toBeLessThan(1e-5);
    const plain = net().forward(x).data;
    expect(maxAbsDiff(plain, y0)).toBeGreaterThan(1e-2);
    // Base weights frozen, as after attachAdapters.
    expect(
      fresh
        .parameters()
        .filter((p) => p.requiresGrad)
        .every((p) => p.kind.startsWith('adapter')),
    ).toBe(true);
  });

  function writeForeign(cfg: object, tensors: Record<string, { shape: number[]; data: Float32Array }>): void {
    fs.writeFileSync(path.join(tmp, PEFT_CONFIG_FILE), JSON.stringify(cfg));
    writeSafetensors(path.join(tmp, PEFT_WEIGHTS_FILE), tensors, { format: 'pt' });
  }
  const baseCfg = {
    peft_type: 'LORA',
    r: 3,
    lora_alpha: 6,
    bias: 'none',
    fan_in_fan_out: false,
    target_modules: ['lin'],
  };

  test.each([
    ['alpha / r', {}, 6 / 3],
    ['rsLoRA alpha / √r', { use_rslora: true }, 6 / Math.sqrt(3)],
    ['alpha_pattern', { alpha_pattern: { lin: 1.5 } }, 1.5 / 3],
  ])('a foreign LoRA (%s): Ψ = scale·B·A', (_, extra, scale) => {
    const A = uniform(71, 3 * 8, -0.5, 0.5);
    const B = uniform(72, 5 * 3, -0.5, 0.5);
    writeForeign(
      { ...baseCfg, ...extra },
      {
        'base_model.model.lin.lora_A.weight': { shape: [3, 8], data: A },
        'base_model.model.lin.lora_B.weight': { shape: [5, 3], data: B },
      },
    );
    const model = new Sequential([['fc', new Linear(8, 5, { seed: 4 })]]);
    const a = importPeft(model, tmp, { moduleNames: { fc: 'lin' } }).get('fc') as CpAdapter;
    expect(a.rank).toBe(3);
    const ref = product(B, A, 5, 8, 3, scale);
    const refAbs = product(abs64(B), abs64(A), 5, 8, 3, scale);
    const { psi, psiAbs } = psiOf(a);
    expect(worstRatio(psi, ref, (j) => 8 * u32 * ((refAbs[j] as number) + (psiAbs[j] as number)))).toBeLessThanOrEqual(
      1,
    );
  });

  test('rank-deficient B·A imports at its numerical rank; an untrained LoRA (B = 0) as an inert rank-0 adapter', () => {
    const A = uniform(73, 3 * 6, -1, 1);
    const B = uniform(74, 4 * 3, -1, 1);
    for (let o = 0; o < 4; o++) B[o * 3 + 2] = 2 * (B[o * 3 + 0] as number); // column 2 = 2 × column 0
    const Z = new Float32Array(4 * 3);
    writeForeign(
      { ...baseCfg, target_modules: ['p', 'q'] },
      {
        'base_model.model.p.lora_A.weight': { shape: [3, 6], data: A },
        'base_model.model.p.lora_B.weight': { shape: [4, 3], data: B },
        'base_model.model.q.lora_A.weight': { shape: [3, 6], data: A },
        'base_model.model.q.lora_B.weight': { shape: [4, 3], data: Z },
      },
    );
    const model = new Sequential([
      ['fp', new Linear(6, 4, { seed: 1 })],
      ['fq', new Linear(6, 4, { seed: 2 })],
    ]);
    const got = importPeft(model, tmp, { moduleNames: { fp: 'p', fq: 'q' } });
    const p = got.get('fp') as CpAdapter;
    expect(p.rank).toBe(2);
    const ref = product(B, A, 4, 6, 3, 2);
    const refAbs = product(abs64(B), abs64(A), 4, 6, 3, 2);
    const { psi, psiAbs } = psiOf(p);
    expect(worstRatio(psi, ref, (j) => 8 * u32 * ((refAbs[j] as number) + (psiAbs[j] as number)))).toBeLessThanOrEqual(
      1,
    );
    expect((got.get('fq') as CpAdapter).rank).toBe(0);
  });
});

describe('exportPeft / importPeft: bad arguments change nothing', () => {
  test('export: unknown layer, missing names, a layer without adapter, bad module names, bad options', () => {
    const { model } = adaptedNet();
    const out = path.join(tmp, 'out');
    const cases: Array<[() => unknown, string, RegExp]> = [
      [
        () => exportPeft(model, out, { moduleNames: { ...NAMES, fc9: 'x' } }),
        'DEBORA_INVALID_CONFIG',
        /unknown layer 'fc9'.*'conv', 'fc1', 'fc2'/,
      ],
      [
        () => exportPeft(model, out, { moduleNames: { conv: 'a', fc1: 'b' } }),
        'DEBORA_INVALID_CONFIG',
        /no entry for the adapted layer\(s\) 'fc2'. Fix: add/,
      ],
      [
        () => exportPeft(model, out, { moduleNames: { ...NAMES, relu1: 'r' } }),
        'DEBORA_INVALID_CONFIG',
        /unknown layer 'relu1'/,
      ],
      [
        () => exportPeft(model, out, { moduleNames: { ...NAMES, fc1: 'a..b' } }),
        'DEBORA_INVALID_CONFIG',
        /'a\.\.b' for layer 'fc1'; expected a dotted module path/,
      ],
      [
        () => exportPeft(model, out, { moduleNames: { ...NAMES, fc1: '' } }),
        'DEBORA_INVALID_CONFIG',
        /for layer 'fc1'/,
      ],
      [
        () => exportPeft(model, out, { moduleNames: { ...NAMES, fc2: 'classifier.0' } }),
        'DEBORA_INVALID_CONFIG',
        /both 'fc1' and 'fc2' to module 'classifier\.0'/,
      ],
      [
        () => exportPeft(model, out, { moduleNames: () => 7 as unknown as string }),
        'DEBORA_INVALID_CONFIG',
        /gives 7 for layer 'conv'/,
      ],
      [
        () => exportPeft(model, out, { moduleNames: ['fc1'] as unknown as Record<string, string> }),
        'DEBORA_INVALID_ARG',
        /argument 'moduleNames'/,
      ],
      [() => exportPeft(model, out, { moduleNames: NAMES, alpha: 0 }), 'DEBORA_INVALID_ARG', /argument 'alpha'/],
      [
        () => exportPeft(model, out, { moduleNames: NAMES, taskType: 'LM' as 'CAUSAL_LM' }),
        'DEBORA_INVALID_ARG',
        /argument 'taskType'/,
      ],
      [() => exportPeft(net(), out, { moduleNames: {} }), 'DEBORA_INVALID_CONFIG', /no attached adapter/],
    ];
    for (const [fn, code, re] of cases) expectErr(fn, code, re);
    // A layer that exists but carries no adapter.
    const m2 = net();
    attachAdapters(m2, { targets: 'fc1', rank: 2 });
    expectErr(
      () => exportPeft(m2, out, { moduleNames: { fc1: 'a', fc2: 'b' } }),
      'DEBORA_INVALID_CONFIG',
      /layer 'fc2', which has no adapter/,
    );
    expect(fs.existsSync(out)).toBe(false);
  });

  test('export: a non-finite s is refused before anything is written', () => {
    const { model, ads } = adaptedNet();
    (ads.get('fc2') as CpAdapter).s.data[1] = Number.POSITIVE_INFINITY;
    expectErr(
      () => exportPeft(model, tmp, { moduleNames: NAMES }),
      'DEBORA_NON_FINITE',
      /layer 'fc2' \(adapter\.s\).*index 1; nothing was written/,
    );
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  test('import: unmapped modules, wrong shapes, an adapter already there, bad configs — no layer changes', () => {
    const { model } = adaptedNet();
    exportPeft(model, tmp, { moduleNames: NAMES });
    const fresh = () => net();
    const check = (m: Module, fn: () => unknown, code: string, re: RegExp) => {
      expectErr(fn, code, re);
      expect(adaptersOf(m).size).toBe(0);
    };
    let m = fresh();
    check(
      m,
      () => importPeft(m, tmp, { moduleNames: { conv: 'features.0', fc1: 'classifier.0' } }),
      'DEBORA_INVALID_CONFIG',
      /holds module\(s\) 'classifier\.2' that moduleNames maps to no layer/,
    );
    m = fresh();
    check(
      m,
      () => importPeft(m, tmp, { moduleNames: { ...NAMES, fcX: 'x' } }),
      'DEBORA_INVALID_CONFIG',
      /unknown layer 'fcX'/,
    );
    m = fresh();
    check(
      m,
      () => importPeft(m, tmp, { moduleNames: { ...NAMES, fc1: 'classifier.9' } }),
      'DEBORA_INVALID_CONFIG',
      /maps layer 'fc1' to module 'classifier\.9', which .* does not hold/,
    );
    m = fresh();
    // fc1 and fc2 swapped: shapes do not fit (conv and fc1 would be fine: nothing may be attached).
    check(
      m,
      () => importPeft(m, tmp, { moduleNames: { ...NAMES, fc1: 'classifier.2', fc2: 'classifier.0' } }),
      'DEBORA_INVALID_CONFIG',
      /module 'classifier\.0' has lora_A \[4, 36\] and lora_B \[7, 4\]; layer 'fc2' \(7 → 5\) needs \[r, 7\] and \[5, r\]/,
    );
    m = fresh();
    check(
      m,
      () => importPeft(m, tmp, { moduleNames: { ...NAMES, conv: 'classifier.0', fc1: 'features.0' } }),
      'DEBORA_INVALID_CONFIG',
      /layer 'conv' is Conv2d/,
    );
    const taken = fresh();
    (taken.get('fc2') as Linear).attachAdapter({ rank: 1 });
    expectErr(
      () => importPeft(taken, tmp, { moduleNames: NAMES }),
      'DEBORA_INVALID_CONFIG',
      /layer 'fc2' already has an adapter/,
    );
    expect([...adaptersOf(taken).keys()]).toEqual(['fc2']);
    m = fresh();
    check(
      m,
      () => importPeft(m, path.join(tmp, 'nope'), { moduleNames: NAMES }),
      'DEBORA_INVALID_CONFIG',
      /holds neither adapter_config\.json nor/,
    );

    const cfgPath = path.join(tmp, PEFT_CONFIG_FILE);
    const good = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
    const badCfgs: Array<[object, RegExp]> = [
      [{ ...good, peft_type: 'IA3' }, /expected peft_type "LORA"/],
      [{ ...good, fan_in_fan_out: true }, /fan_in_fan_out is true/],
      [{ ...good, bias: 'all' }, /bias is 'all'; only 'none'/],
      [{ ...good, use_dora: true }, /DoRA adapters are not supported/],
      [{ ...good, r: 0 }, /r must be an integer >= 1/],
      [
        { ...good, rank_pattern: { 'classifier.0': 4, 'classifier.2': 3 } },
        /module 'classifier\.2' has rank 2 in .* but 3 in/,
      ],
    ];
    for (const [cfg, re] of badCfgs) {
      fs.writeFileSync(cfgPath, JSON.stringify(cfg));
      m = fresh();
      check(m, () => importPeft(m, tmp, { moduleNames: NAMES }), 'DEBORA_INVALID_CONFIG', re);
    }
    fs.writeFileSync(cfgPath, JSON.stringify(good));
    const wPath = path.join(tmp, PEFT_WEIGHTS_FILE);
    const t = readSafetensors(wPath).tensors;
    writeSafetensors(
      wPath,
      new Map([
        ...t,
        ['base_model.model.classifier.0.lora_embedding_A', { dtype: 'F32', shape: [1], data: Float32Array.from([1]) }],
      ]),
    );
    m = fresh();
    check(
      m,
      () => importPeft(m, tmp, { moduleNames: NAMES }),
      'DEBORA_INVALID_CONFIG',
      /holds tensor 'base_model\.model\.classifier\.0\.lora_embedding_A', which is not a LoRA weight/,
    );
    writeSafetensors(wPath, new Map([...t].filter(([k]) => !k.includes('classifier.2.lora_B'))));
    m = fresh();
    check(
      m,
      () => importPeft(m, tmp, { moduleNames: NAMES }),
      'DEBORA_INVALID_CONFIG',
      /holds lora_A but not lora_B for module 'classifier\.2'/,
    );
  });
});
