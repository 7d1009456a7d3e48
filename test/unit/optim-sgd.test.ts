/**
 * optim-sgd.test.ts — SGD (lib/optim/sgd.ts) against hand-computed sequences and against a float64
 * re-implementation of torch.optim.SGD's update on seeded random data: plain, momentum, dampening,
 * Nesterov, L2 weight decay; and its configuration errors.
 */
import { Parameter } from '../../lib/nn/parameter';
import { SGD, type SGDSettings } from '../../lib/optim/sgd';
import { Rng } from '../../lib/rng';

function param(name: string, values: number[]): Parameter {
  return new Parameter(name, Float32Array.from(values), [values.length], 'weight');
}

/** Runs `grads.length` steps of SGD on one parameter, returning θ after each step. */
function run(settings: SGDSettings, theta0: number[], grads: number[][]): number[][] {
  const p = param('w', theta0);
  const opt = new SGD([p], settings);
  return grads.map((g) => {
    p.grad.set(g);
    opt.step();
    return Array.from(p.data);
  });
}

// Hand-computed values are exact in real arithmetic; the implementation stores θ and the buffer in
// float32 (relative rounding 2^-24 ≈ 6e-8 per store), so 1e-6 absolute is ample for |θ| ≤ 2.
const HAND_TOL = 1e-6;

function expectClose(actual: number[][], expected: number[][], tol: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, k) => {
    row.forEach((a, i) => {
      const e = (expected[k] as number[])[i] as number;
      if (!(Math.abs(a - e) <= tol)) throw new Error(`step ${k + 1}, element ${i}: ${a} vs ${e} (tol ${tol})`);
    });
  });
}

describe('SGD against hand-computed sequences', () => {
  test('plain SGD: θ ← θ − γ·g', () => {
    // θ = 1, γ = 0.1, g = 1, then 3: 1 − 0.1 = 0.9; 0.9 − 0.3 = 0.6
    expectClose(run({ lr: 0.1 }, [1], [[1], [3]]), [[0.9], [0.6]], HAND_TOL);
  });

  test('momentum: the buffer starts as the first gradient, then b ← μb + g', () => {
    // μ = 0.9, γ = 0.1, g = 1 each step:
    // b1 = 1,    θ1 = 1 − 0.1 = 0.9
    // b2 = 1.9,  θ2 = 0.9 − 0.19 = 0.71
    // b3 = 2.71, θ3 = 0.71 − 0.271 = 0.439
    expectClose(run({ lr: 0.1, momentum: 0.9 }, [1], [[1], [1], [1]]), [[0.9], [0.71], [0.439]], HAND_TOL);
  });

  test('dampening applies from the second step on', () => {
    // μ = 0.9, τ = 0.5, γ = 0.1, g = 1: b1 = 1 (undamped), θ1 = 0.9; b2 = 0.9 + 0.5 = 1.4, θ2 = 0.76
    expectClose(run({ lr: 0.1, momentum: 0.9, dampening: 0.5 }, [1], [[1], [1]]), [[0.9], [0.76]], HAND_TOL);
  });

  test('Nesterov: θ ← θ − γ(g + μb)', () => {
    // μ = 0.9, γ = 0.1, g = 1: b1 = 1, step g + μb = 1.9, θ1 = 0.81;
    // b2 = 1.9, step 1 + 1.71 = 2.71, θ2 = 0.81 − 0.271 = 0.539
    expectClose(run({ lr: 0.1, momentum: 0.9, nesterov: true }, [1], [[1], [1]]), [[0.81], [0.539]], HAND_TOL);
  });

  test('weight decay is L2 in the gradient: g ← g + λθ', () => {
    // λ = 0.5, γ = 0.1, θ = 2, g = 1: d = 2, θ1 = 1.8; d = 1 + 0.9 = 1.9, θ2 = 1.61
    expectClose(run({ lr: 0.1, weightDecay: 0.5 }, [2], [[1], [1]]), [[1.8], [1.61]], HAND_TOL);
    // with momentum 0.5 the decayed gradient enters the buffer: b1 = 2, θ1 = 1.8; b2 = 1 + 1.9 = 2.9, θ2 = 1.51
    expectClose(run({ lr: 0.1, weightDecay: 0.5, momentum: 0.5 }, [2], [[1], [1]]), [[1.8], [1.51]], HAND_TOL);
  });
});

/** torch.optim.SGD's single-tensor update, in float64. */
function torchSgd(s: Required<SGDSettings>, theta0: Float64Array, grads: Float64Array[]): Float64Array[] {
  const theta = theta0.slice();
  let buf: Float64Array | null = null;
  const out: Float64Array[] = [];
  for (const grad of grads) {
    let d = grad.slice();
    if (s.weightDecay !== 0) d = d.map((v, i) => v + s.weightDecay * (theta[i] as number));
    if (s.momentum !== 0) {
      if (buf === null) buf = d.slice();
      else {
        const b: Float64Array = buf;
        buf = b.map((v, i) => s.momentum * v + (1 - s.dampening) * (d[i] as number));
      }
      const b: Float64Array = buf;
      d = s.nesterov ? d.map((v, i) => v + s.momentum * (b[i] as number)) : b.slice();
    }
    for (let i = 0; i < theta.length; i++) theta[i] = (theta[i] as number) - s.lr * (d[i] as number);
    out.push(theta.slice());
  }
  return out;
}

describe('SGD against the torch formulas on random data', () => {
  const configs: Required<SGDSettings>[] = [
    { lr: 0.05, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
    { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 },
    { lr: 0.02, momentum: 0.8, dampening: 0.3, nesterov: false, weightDecay: 0.01 },
    { lr: 0.03, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0.05 },
    { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.2 },
  ];
  test.each(configs.map((c) => [JSON.stringify(c), c] as const))('%s: 12 steps on 37 elements', (_, cfg) => {
    const rng = new Rng(11);
    const n = 37; // prime, so nothing lines up with any block size
    const p = new Parameter('w', rng.fillNormal(new Float32Array(n)), [n], 'weight');
    const theta0 = Float64Array.from(p.data);
    // gradients are float32 values, so both sides see identical inputs
    const grads = Array.from({ length: 12 }, () => Float64Array.from(rng.fillNormal(new Float32Array(n))));
    const ref = torchSgd(cfg, theta0, grads);
    const opt = new SGD([p], cfg);
    // θ and the buffer are stored in float32 after each step (2^-24 relative each); momentum can
    // carry a buffer rounding for up to 1/(1 − μ) = 10 steps, so after 12 steps with |θ| ≲ 4 the
    // error stays far below 12·10·4·6e-8 ≈ 3e-5; measured ≲ 3e-7 (relative).
    const tol = 1e-5;
    grads.forEach((g, k) => {
      p.grad.set(g);
      opt.step();
      const r = ref[k] as Float64Array;
      for (let i = 0; i < n; i++) {
        const err = Math.abs((p.data[i] as number) - (r[i] as number));
        if (!(err <= tol * Math.max(1, Math.abs(r[i] as number)))) {
          throw new Error(`step ${k + 1}, element ${i}: ${p.data[i]} vs ${r[i]}`);
        }
      }
    });
    expect(opt.stepCount).toBe(12);
  });
});

describe('SGD configuration errors name the field and the fix', () => {
  const p = () => [param('w', [1, 2])];
  test.each([
    [{ lr: 0 }, 'lr'],
    [{ lr: -1 }, 'lr'],
    [{ lr: Number.NaN }, 'lr'],
    [{ momentum: -0.1 }, 'momentum'],
    [{ momentum: 1 }, 'momentum'],
    [{ dampening: 1.5 }, 'dampening'],
    [{ weightDecay: -1e-4 }, 'weightDecay'],
    [{ nesterov: true, momentum: 0.9, dampening: 0.1 }, 'dampening'],
    [{ nesterov: true }, 'momentum'],
    [{ nesterov: 'yes' as unknown as boolean }, 'nesterov'],
    [{ weight_decay: 0.1 } as unknown as SGDSettings, 'weight_decay'],
  ])('%o → %s', (settings, field) => {
    let err: unknown;
    try {
      new SGD(p(), settings as SGDSettings);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ name: 'DeboraError', code: 'DEBORA_INVALID_CONFIG' });
    const msg = (err as Error).message;
    expect(msg).toContain(`SGD: expected `);
    expect(msg).toContain(`for argument '${field}'`);
    expect(msg).toContain('Fix: ');
  });

  test('a group override is named with its group index', () => {
    expect(() => new SGD([{ params: p() }, { params: [param('b', [0])], momentum: 2 }], { momentum: 0.9 })).toThrow(
      /SGD: expected a finite number >= 0 and < 1 for argument 'paramGroups\[1\]\.momentum', received 2\. Fix: /,
    );
    // a cross-field rule is checked on the merged settings of each group
    expect(() => new SGD([{ params: p(), dampening: 0.5 }], { momentum: 0.9, nesterov: true })).toThrow(
      /'paramGroups\[0\]\.dampening'/,
    );
  });
});
