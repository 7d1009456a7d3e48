/**
 * optim-adam.test.ts — Adam and AdamW (lib/optim/adam.ts) against hand-computed sequences and a
 * float64 re-implementation of torch's `_single_tensor_adam` on seeded random data: bias correction,
 * coupled (Adam) vs decoupled (AdamW) weight decay, AMSGrad; and their configuration errors.
 */
import { Parameter } from '../../lib/nn/parameter';
import { Adam, type AdamSettings, AdamW } from '../../lib/optim/adam';
import { Rng } from '../../lib/rng';

function param(name: string, values: number[]): Parameter {
  return new Parameter(name, Float32Array.from(values), [values.length], 'weight');
}

// Hand values are exact reals; θ, m, v are stored in float32 (2^-24 ≈ 6e-8 relative per store),
// so 1e-6 absolute is ample for |θ| ≤ 1 over a few steps.
const HAND_TOL = 1e-6;

describe('Adam against hand-computed sequences', () => {
  test('bias correction: two steps with β = (0.5, 0.5)', () => {
    // θ = 1, γ = 0.1, g1 = 1, g2 = 3:
    // t=1: m = 0.5, v = 0.5, m̂ = 1, v̂ = 1, θ1 = 1 − 0.1·1/(1 + ε) ≈ 0.9
    // t=2: m = 0.25 + 1.5 = 1.75, v = 0.25 + 4.5 = 4.75, m̂ = 1.75/0.75 = 7/3, v̂ = 19/3,
    //      θ2 = 0.9 − 0.1·(7/3)/√(19/3) = 0.9 − 0.7/√57
    const p = param('w', [1]);
    const opt = new Adam([p], { lr: 0.1, betas: [0.5, 0.5] });
    p.grad[0] = 1;
    opt.step();
    expect(Math.abs((p.data[0] as number) - 0.9)).toBeLessThanOrEqual(HAND_TOL);
    p.grad[0] = 3;
    opt.step();
    expect(Math.abs((p.data[0] as number) - (0.9 - 0.7 / Math.sqrt(57)))).toBeLessThanOrEqual(HAND_TOL);
    const st = opt.stateOf(p);
    expect(st?.step).toBe(2);
    expect(st?.buffers.expAvg?.[0]).toBeCloseTo(1.75, 6);
    expect(st?.buffers.expAvgSq?.[0]).toBeCloseTo(4.75, 6);
  });

  test('a constant gradient moves θ by γ·g/(|g| + ε) every step (bias correction is exact)', () => {
    // m̂ = g and v̂ = g² exactly for a constant g, with the default β = (0.9, 0.999)
    const p = param('w', [1, -1]);
    const opt = new Adam([p], { lr: 0.01 });
    for (let t = 1; t <= 5; t++) {
      p.grad.set([0.5, -2]);
      opt.step();
      expect(Math.abs((p.data[0] as number) - (1 - (t * 0.01 * 0.5) / (0.5 + 1e-8)))).toBeLessThanOrEqual(HAND_TOL);
      expect(Math.abs((p.data[1] as number) - (-1 + (t * 0.01 * 2) / (2 + 1e-8)))).toBeLessThanOrEqual(HAND_TOL);
    }
  });

  test('weight decay: coupled in Adam (normalised away), decoupled in AdamW (θ(1 − γλ)ᵗ)', () => {
    // g = 0, θ = 1, γ = 0.1, λ = 0.5.
    // Adam: d = λθ goes through the moments, so the first step is γ·d/(|d| + ε) ≈ γ whatever λ is.
    const a = param('w', [1]);
    const adam = new Adam([a], { lr: 0.1, weightDecay: 0.5 });
    adam.step();
    expect(Math.abs((a.data[0] as number) - 0.9)).toBeLessThanOrEqual(HAND_TOL);
    // AdamW: the moments stay 0 (0/(0 + ε) = 0), only the decay acts: θ_t = (1 − 0.05)^t
    const w = param('w', [1]);
    const adamw = new AdamW([w], { lr: 0.1, weightDecay: 0.5 });
    for (let t = 1; t <= 3; t++) {
      adamw.step();
      expect(Math.abs((w.data[0] as number) - 0.95 ** t)).toBeLessThanOrEqual(HAND_TOL);
    }
    expect(adamw.stateOf(w)?.buffers.expAvg?.[0]).toBe(0);
  });

  test('AdamW defaults to weight decay 1e-2, Adam to 0 (as torch)', () => {
    expect(new AdamW([param('w', [1])]).paramGroup(0).hyper.weightDecay).toBe(1e-2);
    expect(new Adam([param('w', [1])]).paramGroup(0).hyper).toEqual({
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      amsgrad: false,
    });
    expect(new AdamW([param('w', [1])], { weightDecay: 0 }).paramGroup(0).hyper.weightDecay).toBe(0);
  });

  test('AMSGrad divides by the running maximum of v', () => {
    // β = (0.5, 0.5), γ = 0.1, θ = 1, g1 = 2, g2 = 0:
    // t=1: m = 1, v = 2, v̂max = 2; m̂ = 2, √(v̂max/0.5) = 2: θ1 = 1 − 0.1·2/2 = 0.9
    // t=2: m = 0.5, v = 1, v̂max stays 2; m̂ = 0.5/0.75, √(2/0.75): θ2 = 0.9 − 0.1·(2/3)/√(8/3)
    const p = param('w', [1]);
    const opt = new Adam([p], { lr: 0.1, betas: [0.5, 0.5], amsgrad: true });
    p.grad[0] = 2;
    opt.step();
    expect(Math.abs((p.data[0] as number) - 0.9)).toBeLessThanOrEqual(HAND_TOL);
    p.grad[0] = 0;
    opt.step();
    expect(Math.abs((p.data[0] as number) - (0.9 - (0.1 * (2 / 3)) / Math.sqrt(8 / 3)))).toBeLessThanOrEqual(HAND_TOL);
    expect(opt.stateOf(p)?.buffers.maxExpAvgSq?.[0]).toBe(2);
    expect(opt.stateOf(p)?.buffers.expAvgSq?.[0]).toBe(1);
  });
});

interface Ref {
  lr: number;
  b1: number;
  b2: number;
  eps: number;
  wd: number;
  amsgrad: boolean;
  decoupled: boolean;
}

/** torch's `_single_tensor_adam` (Adam, and AdamW through `decoupled`), in float64. */
function torchAdam(c: Ref, theta0: Float64Array, grads: Float64Array[]): Float64Array[] {
  const n = theta0.length;
  const theta = theta0.slice();
  const m = new Float64Array(n);
  const v = new Float64Array(n);
  const vmax = new Float64Array(n);
  const out: Float64Array[] = [];
  grads.forEach((grad, k) => {
    const t = k + 1;
    let g = grad.slice();
    if (c.decoupled) for (let i = 0; i < n; i++) theta[i] = (theta[i] as number) * (1 - c.lr * c.wd);
    else if (c.wd !== 0) g = g.map((x, i) => x + c.wd * (theta[i] as number));
    for (let i = 0; i < n; i++) {
      m[i] = (m[i] as number) + (1 - c.b1) * ((g[i] as number) - (m[i] as number)); // lerp_
      v[i] = c.b2 * (v[i] as number) + (1 - c.b2) * (g[i] as number) * (g[i] as number);
    }
    const bc1 = 1 - c.b1 ** t;
    const bc2 = 1 - c.b2 ** t;
    const stepSize = c.lr / bc1;
    for (let i = 0; i < n; i++) {
      let vh = v[i] as number;
      if (c.amsgrad) {
        vmax[i] = Math.max(vmax[i] as number, vh);
        vh = vmax[i] as number;
      }
      const denom = Math.sqrt(vh) / Math.sqrt(bc2) + c.eps;
      theta[i] = (theta[i] as number) - (stepSize * (m[i] as number)) / denom;
    }
    out.push(theta.slice());
  });
  return out;
}

describe('Adam / AdamW against the torch formulas on random data', () => {
  const base = { lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0, amsgrad: false, decoupled: false };
  const cases: [string, Ref][] = [
    ['Adam defaults', base],
    ['Adam, L2 0.1, β (0.8, 0.99)', { ...base, wd: 0.1, b1: 0.8, b2: 0.99 }],
    ['Adam, AMSGrad, L2 0.01', { ...base, amsgrad: true, wd: 0.01 }],
    ['AdamW, λ 0.1, lr 0.05', { ...base, decoupled: true, wd: 0.1, lr: 0.05 }],
    ['AdamW, AMSGrad, β1 0, ε 1e-3', { ...base, decoupled: true, wd: 0.01, amsgrad: true, b1: 0, eps: 1e-3 }],
  ];
  test.each(cases)('%s: 15 steps on 41 elements', (_, c) => {
    const rng = new Rng(5);
    const n = 41;
    const p = new Parameter('w', rng.fillNormal(new Float32Array(n)), [n], 'weight');
    const theta0 = Float64Array.from(p.data);
    // gradients of varied scale per element (1e-3 … 10) so ε and the moments all matter
    const scale = Float64Array.from({ length: n }, () => 10 ** rng.uniform(-3, 1));
    const grads = Array.from({ length: 15 }, () =>
      Float64Array.from(rng.fillNormal(new Float32Array(n)).map((g, i) => g * (scale[i] as number))),
    );
    const ref = torchAdam(c, theta0, grads);
    const settings: AdamSettings = {
      lr: c.lr,
      betas: [c.b1, c.b2],
      eps: c.eps,
      weightDecay: c.wd,
      amsgrad: c.amsgrad,
    };
    const opt = c.decoupled ? new AdamW([p], settings) : new Adam([p], settings);
    // Each step moves θ by at most ≈ γ/(1 − β1) ≤ 0.5; the float32 stores of θ, m, v add ≤ 2^-24
    // relative error per step to θ and to the update, so after 15 steps |θ − θref| ≲ 15·6e-8·(|θ| + 1)
    // ≈ 4e-6 for |θ| ≲ 3; measured ≲ 3e-7 (relative).
    const tol = 5e-6;
    grads.forEach((g, k) => {
      p.grad.set(g);
      opt.step();
      const r = ref[k] as Float64Array;
      for (let i = 0; i < n; i++) {
        const err = Math.abs((p.data[i] as number) - (r[i] as number));
        if (!(err <= tol * Math.max(1, Math.abs(r[i] as number)))) {
          throw new Error(`step ${k + 1}, element ${i}: ${p.data[i]} vs ${r[i]} (err ${err})`);
        }
      }
    });
    expect(opt.stateOf(p)?.step).toBe(15);
  });
});

describe('Adam configuration errors name the field and the fix', () => {
  const ps = () => [param('w', [1, 2])];
  test.each([
    [{ lr: 0 }, 'lr'],
    [{ lr: Number.POSITIVE_INFINITY }, 'lr'],
    [{ betas: [1, 0.999] }, 'betas[0]'],
    [{ betas: [-0.1, 0.999] }, 'betas[0]'],
    [{ betas: [0.9, 1] }, 'betas[1]'],
    [{ betas: [0.9] }, 'betas'],
    [{ betas: 0.9 }, 'betas'],
    [{ eps: 0 }, 'eps'],
    [{ weightDecay: -0.01 }, 'weightDecay'],
    [{ amsgrad: 1 }, 'amsgrad'],
    [{ beta1: 0.9 }, 'beta1'],
  ])('%o → %s', (settings, field) => {
    for (const Ctor of [Adam, AdamW]) {
      let err: unknown;
      try {
        new Ctor(ps(), settings as unknown as AdamSettings);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ name: 'DeboraError', code: 'DEBORA_INVALID_CONFIG' });
      const msg = (err as Error).message;
      expect(msg.startsWith(`${Ctor.name}: expected `)).toBe(true);
      expect(msg).toContain(`for argument '${field}'`);
      expect(msg).toContain('Fix: ');
    }
  });
});
