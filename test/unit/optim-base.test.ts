/**
 * optim-base.test.ts — what every optimiser shares (lib/optim/optimizer.ts), exercised through
 * SGD, Adam and AdamW: parameter groups, frozen parameters, all-or-nothing steps on non-finite
 * gradients, `remap` after deleting columns, add/remove of parameters, the schedule, and state
 * dicts (round trip, validation).
 */
import { Parameter, selectColumns } from '../../lib/nn/parameter';
import { Adam, AdamW } from '../../lib/optim/adam';
import type { Optimizer, OptimizerStateDict } from '../../lib/optim/optimizer';
import { lrLinearWarmup } from '../../lib/optim/schedule';
import { SGD } from '../../lib/optim/sgd';
import { Rng } from '../../lib/rng';

function param(name: string, values: ArrayLike<number>, shape = [values.length]): Parameter {
  return new Parameter(name, Float32Array.from(values), shape, 'weight');
}

function randomParam(rng: Rng, name: string, shape: number[]): Parameter {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Parameter(name, rng.fillNormal(new Float32Array(n)), shape, 'weight');
}

function fillGrads(rng: Rng, params: Parameter[]): void {
  for (const p of params) rng.fillNormal(p.grad);
}

/** Deep copy of every state buffer and step, for "nothing changed" checks. */
function snapshot(opt: SGD | Adam | AdamW, params: Parameter[]) {
  return params.map((p) => {
    const st = opt.stateOf(p);
    return {
      data: Array.from(p.data),
      grad: Array.from(p.grad),
      step: st?.step,
      buffers: st ? Object.fromEntries(Object.entries(st.buffers).map(([k, b]) => [k, Array.from(b)])) : null,
    };
  });
}

function caught(f: () => unknown): Error & { code?: string } {
  try {
    f();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected an error');
}

const makers: [string, (ps: Parameter[]) => SGD | Adam | AdamW][] = [
  ['SGD + Nesterov + L2', (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
  ['Adam + AMSGrad + L2', (ps) => new Adam(ps, { lr: 0.01, amsgrad: true, weightDecay: 0.01 })],
  ['AdamW', (ps) => new AdamW(ps, { lr: 0.01, weightDecay: 0.1 })],
];

describe('parameter groups', () => {
  test('groups override the defaults; each group steps with its own lr', () => {
    const a = param('a', [1]);
    const b = param('b', [1]);
    const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1 });
    expect(opt.groupCount).toBe(2);
    expect([opt.lr(0), opt.lr(1)]).toEqual([0.1, 0.5]);
    a.grad[0] = 1;
    b.grad[0] = 1;
    opt.step();
    expect(a.data[0]).toBeCloseTo(0.9, 7);
    expect(b.data[0]).toBeCloseTo(0.5, 7);
    expect(opt.paramGroup(1).hyper).toEqual({ lr: 0.5, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 });
    expect(caught(() => opt.lr(2))).toMatchObject({ name: 'DeboraError', code: 'DEBORA_INVALID_ARG' });
  });

  test('bad parameter lists are refused with the argument named', () => {
    const a = param('a', [1]);
    expect(caught(() => new SGD([]))).toMatchObject({
      code: 'DEBORA_INVALID_ARG',
      message: expect.stringContaining("argument 'params'"),
    });
    expect(caught(() => new SGD([a, a]))).toMatchObject({
      code: 'DEBORA_INVALID_ARG',
      message: expect.stringContaining("'a' twice"),
    });
    expect(caught(() => new SGD([{ params: [a] }, { params: [a] }]))).toMatchObject({ code: 'DEBORA_INVALID_ARG' });
    expect(caught(() => new SGD([{ params: [a, 3 as unknown as Parameter] }]))).toMatchObject({
      code: 'DEBORA_INVALID_ARG',
      message: "SGD: expected a Parameter for argument 'paramGroups[0].params[1]', received 3",
    });
    expect(caught(() => new SGD([{ params: [a], lrr: 1 } as never]))).toMatchObject({
      code: 'DEBORA_INVALID_CONFIG',
      message: expect.stringContaining("argument 'paramGroups[0].lrr'"),
    });
    expect(caught(() => new SGD([a], { schedule: 3 } as never))).toMatchObject({
      code: 'DEBORA_INVALID_CONFIG',
      message: expect.stringContaining("argument 'schedule'"),
    });
  });
});

describe.each(makers)('%s', (_, make) => {
  test('frozen parameters are not touched and get no state; unfreezing starts their state', () => {
    const rng = new Rng(1);
    const a = randomParam(rng, 'a', [7]);
    const f = randomParam(rng, 'f', [5]);
    f.requiresGrad = false;
    const opt = make([a, f]);
    fillGrads(rng, [a, f]);
    const before = Array.from(f.data);
    const aBefore = Array.from(a.data);
    opt.step();
    opt.step();
    expect(Array.from(f.data)).toEqual(before);
    expect(Array.from(a.data)).not.toEqual(aBefore);
    expect(opt.stateOf(f)).toBeUndefined();
    expect(opt.stateOf(a)?.step).toBe(2);
    f.requiresGrad = true;
    opt.step();
    expect(opt.stateOf(f)?.step).toBe(1);
    expect(Array.from(f.data)).not.toEqual(before);
  });

  test.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
    'a %p gradient throws DEBORA_NON_FINITE naming the parameter, and nothing changes',
    (bad) => {
      const rng = new Rng(2);
      const ps = [randomParam(rng, 'fc1.weight', [3, 4]), randomParam(rng, 'fc2.weight', [4, 5])];
      const opt = make(ps);
      fillGrads(rng, ps);
      opt.step(); // so there is state to protect as well
      fillGrads(rng, ps);
      (ps[1] as Parameter).grad[13] = bad;
      const before = snapshot(opt, ps);
      const err = caught(() => opt.step());
      expect(err).toMatchObject({ name: 'DeboraError', code: 'DEBORA_NON_FINITE' });
      expect(err.message).toContain("for argument 'fc2.weight.grad'");
      expect(err.message).toContain('at index 13');
      expect(snapshot(opt, ps)).toEqual(before);
      expect(opt.stepCount).toBe(1);
    },
  );

  test.each(['before', 'after'])(
    'remap %s Parameter.remap keeps the surviving moments and matches a column-wise optimiser',
    (order) => {
      // P is 3×6; Q holds only the columns `keep` of P from the start. Stepping both with the same
      // gradients (restricted for Q), then deleting the other columns of P, must give Q's state and
      // Q's trajectory exactly: every update is elementwise, so the kept entries never saw the rest.
      const rows = 3;
      const cols = 6;
      const keep = [0, 2, 5];
      const map = (buf: Float32Array) => selectColumns(buf, rows, cols, keep);
      const rng = new Rng(3);
      const P = randomParam(rng, 'adapter.U', [rows, cols]);
      const Q = param('adapter.U', map(P.data), [rows, keep.length]);
      const optP = make([P]);
      const optQ = make([Q]);
      let restrict = map; // P's gradient → Q's: column selection before the deletion, identity after
      const steps = (k: number) => {
        for (let s = 0; s < k; s++) {
          rng.fillNormal(P.grad);
          Q.grad.set(restrict(P.grad));
          optP.step();
          optQ.step();
        }
      };
      steps(3);
      const old = Object.fromEntries(Object.entries(optP.stateOf(P)?.buffers ?? {}).map(([k, b]) => [k, b.slice()]));
      expect(Object.keys(old).length).toBeGreaterThan(0);
      // The optimiser may be told before or after the parameter (CpAdapter.prune tells it before).
      if (order === 'before') optP.remap(P, map);
      P.remap(map, [rows, keep.length]);
      if (order === 'after') optP.remap(P, map);
      restrict = (buf) => buf;
      const st = optP.stateOf(P);
      expect(st?.step).toBe(3);
      for (const [k, b] of Object.entries(st?.buffers ?? {})) {
        const was = old[k] as Float32Array;
        expect(b.length).toBe(rows * keep.length);
        for (let i = 0; i < rows; i++) {
          for (const [j, c] of keep.entries()) expect(b[i * keep.length + j]).toBe(was[i * cols + c]);
        }
        expect(Array.from(b)).toEqual(Array.from(optQ.stateOf(Q)?.buffers[k] ?? []));
      }
      expect(Array.from(P.data)).toEqual(Array.from(Q.data));
      steps(2);
      expect(Array.from(P.data)).toEqual(Array.from(Q.data));
      expect(optP.stateOf(P)?.step).toBe(5);
    },
  );

  test('a parameter remapped without the optimiser is caught before anything changes', () => {
    const rng = new Rng(4);
    const ps = [randomParam(rng, 'a', [4]), randomParam(rng, 'b', [2, 3])];
    const opt = make(ps);
    fillGrads(rng, ps);
    opt.step();
    const keep = (buf: Float32Array) => selectColumns(buf, 2, 3, [1]);
    (ps[1] as Parameter).remap(keep, [2, 1]);
    fillGrads(rng, ps);
    const before = snapshot(opt, ps);
    const err = caught(() => opt.step());
    expect(err).toMatchObject({ name: 'DeboraError', code: 'DEBORA_SHAPE_MISMATCH' });
    expect(err.message).toContain("for argument 'b'");
    expect(err.message).toContain('optimizer.remap');
    expect(snapshot(opt, ps)).toEqual(before);
    opt.remap(ps[1] as Parameter, keep);
    expect(() => opt.step()).not.toThrow();
  });

  test('state is keyed by the Parameter object: replacing its data array keeps the state', () => {
    const rng = new Rng(5);
    const a = randomParam(rng, 'a', [9]);
    const b = param('a', a.data);
    const optA = make([a]);
    const optB = make([b]);
    for (let s = 0; s < 4; s++) {
      rng.fillNormal(a.grad);
      b.grad.set(a.grad);
      if (s === 2) {
        a.data = a.data.slice(); // e.g. a layer re-allocating its weights
        a.grad = a.grad.slice();
      }
      optA.step();
      optB.step();
    }
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(optA.stateOf(a)?.step).toBe(4);
  });

  test('state dict: JSON meta + buffers; a restored optimiser continues identically', () => {
    const rng = new Rng(6);
    const ps = [randomParam(rng, 'fc1.weight', [5, 3]), randomParam(rng, 'fc1.bias', [5])];
    const twins = ps.map((p) => param(p.name, p.data, p.shape));
    const opt = make(ps);
    for (let s = 0; s < 3; s++) {
      fillGrads(rng, ps);
      opt.step();
    }
    for (const [i, t] of twins.entries()) t.data.set((ps[i] as Parameter).data);
    const sd = opt.stateDict();
    // the metadata survives JSON; the buffers are copies
    const meta = JSON.parse(JSON.stringify(sd.meta));
    expect(meta).toEqual(sd.meta);
    expect(meta.stepCount).toBe(3);
    expect(meta.groups[0].params).toEqual(['fc1.weight', 'fc1.bias']);
    const buf = Object.values(sd.buffers['fc1.bias'] ?? {})[0] as Float32Array;
    const kept = buf[0];
    buf[0] = 123;
    expect(Object.values(opt.stateOf(ps[1] as Parameter)?.buffers ?? {})[0]?.[0]).toBe(kept);
    buf[0] = kept as number;

    const restored = make(twins);
    restored.loadStateDict({ meta, buffers: sd.buffers });
    expect(restored.stepCount).toBe(3);
    for (let s = 0; s < 3; s++) {
      fillGrads(rng, ps);
      for (const [i, t] of twins.entries()) t.grad.set((ps[i] as Parameter).grad);
      opt.step();
      restored.step();
    }
    for (const [i, t] of twins.entries()) expect(Array.from(t.data)).toEqual(Array.from((ps[i] as Parameter).data));
  });
});

describe('remap, add and remove', () => {
  test('remap before any step is a no-op; bad maps and unknown parameters are refused', () => {
    const a = param('a', [1, 2, 3, 4, 5, 6], [2, 3]);
    const opt = new Adam([a]);
    const keep2 = (buf: Float32Array) => selectColumns(buf, 2, 3, [0, 2]);
    a.remap(keep2, [2, 2]);
    expect(() => opt.remap(a, keep2)).not.toThrow();
    expect(opt.stateOf(a)).toBeUndefined();
    a.grad.set([1, 1, 1, 1]);
    opt.step();
    const before = Array.from(opt.stateOf(a)?.buffers.expAvg ?? []);
    // the parameter is remapped first; a map giving the wrong length for the state is refused
    const keep1 = (buf: Float32Array) => selectColumns(buf, 2, 2, [1]);
    a.remap(keep1, [2, 1]);
    const err = caught(() => opt.remap(a, (b) => b.slice(0, 1)));
    expect(err).toMatchObject({ name: 'DeboraError', code: 'DEBORA_SHAPE_MISMATCH' });
    expect(err.message).toContain("argument 'a'");
    expect(err.message).toContain('length 2');
    expect(Array.from(opt.stateOf(a)?.buffers.expAvg ?? [])).toEqual(before);
    opt.remap(a, keep1);
    expect(Array.from(opt.stateOf(a)?.buffers.expAvg ?? [])).toEqual([before[1], before[3]]);
    // a parameter this optimiser does not hold is left alone (the adapter tells every holder)
    expect(() => opt.remap(param('z', [1]), (b) => b.slice(0, 0))).not.toThrow();
    expect(caught(() => opt.remap(3 as never, (b) => b))).toMatchObject({ code: 'DEBORA_INVALID_ARG' });
    expect(caught(() => opt.remap(a, 3 as never))).toMatchObject({
      code: 'DEBORA_INVALID_ARG',
      message: expect.stringContaining("argument 'map'"),
    });
  });

  test('addParams adds a group with its own settings; removeParam drops a parameter and its state', () => {
    const a = param('a', [1]);
    const b = param('b', [1]);
    const opt = new SGD([a], { lr: 0.1, momentum: 0.5 });
    expect(opt.addParams({ params: [b], lr: 0.2 })).toBe(1);
    expect(opt.paramGroup(1).hyper.momentum).toBe(0.5); // the defaults still apply
    expect(caught(() => opt.addParams([a]))).toMatchObject({ code: 'DEBORA_INVALID_ARG' });
    expect(caught(() => opt.addParams({ params: [param('c', [0])], lr: -1 }))).toMatchObject({
      code: 'DEBORA_INVALID_CONFIG',
      message: expect.stringContaining("argument 'group.lr'"),
    });
    expect(opt.groupCount).toBe(2);
    a.grad[0] = 1;
    b.grad[0] = 1;
    opt.step();
    expect(a.data[0]).toBeCloseTo(0.9, 7);
    expect(b.data[0]).toBeCloseTo(0.8, 7);
    expect(opt.removeParam(a)).toBe(true);
    expect(opt.removeParam(a)).toBe(false);
    expect(opt.stateOf(a)).toBeUndefined();
    opt.step();
    expect(a.data[0]).toBeCloseTo(0.9, 7);
    expect(b.data[0]).toBeCloseTo(0.8 - 0.2 * 1.5, 6);
    // a removed parameter can come back, with fresh state
    expect(opt.addParams([a])).toBe(2);
    opt.step();
    expect(opt.stateOf(a)?.step).toBe(1);
  });

  test('zeroGrad clears every gradient, frozen ones included', () => {
    const a = param('a', [1, 2]);
    const f = param('f', [3]);
    f.requiresGrad = false;
    const opt: Optimizer = new SGD([a, f]);
    a.grad.set([1, 2]);
    f.grad.set([3]);
    opt.zeroGrad();
    expect([...a.grad, ...f.grad]).toEqual([0, 0, 0]);
  });
});

describe('schedule', () => {
  test('the step uses base lr × schedule(stepCount); lr() reports the next one', () => {
    const a = param('a', [0]);
    const opt = new SGD([{ params: [a] }, { params: [param('b', [0])], lr: 1 }], {
      lr: 0.4,
      schedule: lrLinearWarmup(4),
    });
    const seen: number[] = [];
    for (let s = 0; s < 5; s++) {
      expect(opt.lr(1)).toBeCloseTo((s + 1 < 4 ? (s + 1) / 4 : 1) * 1, 12);
      seen.push(opt.lr(0));
      const x = a.data[0] as number;
      a.grad[0] = -1;
      opt.step();
      expect((a.data[0] as number) - x).toBeCloseTo(seen[s] as number, 6);
    }
    expect(seen.map((v) => Math.round(v * 1e9) / 1e9)).toEqual([0.1, 0.2, 0.3, 0.4, 0.4]);
  });

  test('a schedule giving NaN or a negative factor stops the step before any change', () => {
    for (const bad of [Number.NaN, -1]) {
      const a = param('a', [1]);
      const opt = new SGD([a], { lr: 0.1, schedule: () => bad });
      a.grad[0] = 1;
      const err = caught(() => opt.step());
      expect(err).toMatchObject({ name: 'DeboraError' });
      expect(err.code).toBe(Number.isNaN(bad) ? 'DEBORA_NON_FINITE' : 'DEBORA_INVALID_CONFIG');
      expect(err.message).toContain("argument 'schedule(0)'");
      expect(a.data[0]).toBe(1);
      expect(opt.stepCount).toBe(0);
    }
  });
});

describe('state dict validation', () => {
  function trained() {
    const rng = new Rng(7);
    const ps = [randomParam(rng, 'w', [2, 3]), randomParam(rng, 'b', [2])];
    const opt = new Adam(ps, { lr: 0.01 });
    fillGrads(rng, ps);
    opt.step();
    return { ps, opt, sd: opt.stateDict() };
  }

  type Sd = OptimizerStateDict;
  const withMeta = (sd: Sd, patch: object): unknown => ({ ...sd, meta: { ...sd.meta, ...patch } });
  const withGroup0 = (sd: Sd, patch: object): unknown => withMeta(sd, { groups: [{ ...sd.meta.groups[0], ...patch }] });
  const withBufs = (sd: Sd, name: string, bufs: object, keepOthers = true): unknown => ({
    ...sd,
    buffers: { ...sd.buffers, [name]: keepOthers ? { ...sd.buffers[name], ...bufs } : bufs },
  });
  const cases: [string, (sd: Sd) => unknown, string, string][] = [
    ['another optimiser', (sd) => withMeta(sd, { optimizer: 'SGD' }), 'meta.optimizer', 'DEBORA_INVALID_ARG'],
    ['another format', (sd) => withMeta(sd, { format: 2 }), 'meta.format', 'DEBORA_INVALID_ARG'],
    [
      'a missing parameter name',
      (sd) => withGroup0(sd, { params: ['w'] }),
      'meta.groups[0].params',
      'DEBORA_INVALID_ARG',
    ],
    [
      'an unknown parameter name',
      (sd) => withGroup0(sd, { params: ['w', 'b', 'x'] }),
      'meta.groups[0].params',
      'DEBORA_INVALID_ARG',
    ],
    [
      'state for an unknown parameter',
      (sd) => withMeta(sd, { paramSteps: { ...sd.meta.paramSteps, x: 1 } }),
      "meta.paramSteps['x']",
      'DEBORA_INVALID_ARG',
    ],
    ['a wrong group count', (sd) => withMeta(sd, { groups: [] }), 'meta.groups', 'DEBORA_INVALID_ARG'],
    [
      'a short buffer',
      (sd) => withBufs(sd, 'w', { expAvg: new Float32Array(5) }),
      "buffers['w'].expAvg",
      'DEBORA_SHAPE_MISMATCH',
    ],
    [
      'a missing buffer',
      (sd) => withBufs(sd, 'w', { expAvg: sd.buffers.w?.expAvg }, false),
      "buffers['w'].expAvgSq",
      'DEBORA_INVALID_ARG',
    ],
    [
      'an unknown buffer',
      (sd) => withBufs(sd, 'w', { momentumBuffer: new Float32Array(6) }),
      "buffers['w'].momentumBuffer",
      'DEBORA_INVALID_ARG',
    ],
    [
      'a NaN in a buffer',
      (sd) => withBufs(sd, 'b', { expAvgSq: Float32Array.of(0, Number.NaN) }),
      "buffers['b'].expAvgSq",
      'DEBORA_NON_FINITE',
    ],
    [
      'a missing setting',
      (sd) => withGroup0(sd, { hyper: { lr: 0.01 } }),
      'meta.groups[0].hyper.betas',
      'DEBORA_INVALID_CONFIG',
    ],
    [
      'a bad setting',
      (sd) => withGroup0(sd, { hyper: { ...sd.meta.groups[0]?.hyper, eps: -1 } }),
      'meta.groups[0].hyper.eps',
      'DEBORA_INVALID_CONFIG',
    ],
  ];
  test.each(cases)('%s is refused (%s) and the target is unchanged', (_, corrupt, field, code) => {
    const { ps, sd } = trained();
    const twins = ps.map((p) => param(p.name, p.data, p.shape));
    const target = new Adam(twins, { lr: 0.02 });
    for (const t of twins) t.grad.fill(0.5);
    target.step();
    const before = target.stateDict();
    const err = caught(() => target.loadStateDict(corrupt(sd) as Sd));
    expect(err).toMatchObject({ name: 'DeboraError', code });
    expect(err.message).toContain(`argument '${field}'`);
    const after = target.stateDict();
    expect(after.meta).toEqual(before.meta);
    expect(after.buffers).toEqual(before.buffers);
  });

  test('loading restores the settings and the step count; duplicate names cannot be saved', () => {
    const { ps, sd } = trained();
    const target = new Adam(
      ps.map((p) => param(p.name, p.data, p.shape)),
      { lr: 0.5, betas: [0.5, 0.5] },
    );
    target.loadStateDict(sd);
    expect(target.paramGroup(0).hyper).toEqual(sd.meta.groups[0]?.hyper);
    expect(target.stepCount).toBe(1);
    const dup = new SGD([param('w', [1]), param('w', [2])]);
    expect(caught(() => dup.stateDict())).toMatchObject({
      code: 'DEBORA_INVALID_ARG',
      message: expect.stringContaining("'w' twice"),
    });
  });
});
