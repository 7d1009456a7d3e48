/**
 * trainer-config.test.ts — the trainer's validated configuration: defaults, and errors that name
 * the field and the fix (DEBORA_INVALID_CONFIG), unknown fields refused, the AdaLoRA baseline's settings.
 */
import { validateTrainerConfig } from '../../lib/trainer/config';

function err(cfg: unknown): { code: string; message: string } {
  try {
    validateTrainerConfig(cfg);
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('expected an error');
}

describe('validateTrainerConfig', () => {
  test('defaults per method', () => {
    const d = validateTrainerConfig({
      method: 'debora',
      adapters: { targets: /fc/, rank: 8 },
      fw: { tau: 4, epsilon: 1e-3 },
    });
    expect(d.adapters?.geometry).toBe('stiefel');
    expect(d.inner).toMatchObject({ steps: 4, batchSize: 64, optimizer: 'adam', lr: 1e-2, weightDecay: 0 });
    expect(d.split).toBe('same');
    expect(d.upperBatchSize).toBe(256);
    // Frank-Wolfe warm-up: 16 outer steps by default, none with schedule: null, the user's own kept
    expect(d.fw?.schedule).toEqual({ warmup: 16 });
    const fw = (schedule: unknown) =>
      validateTrainerConfig({
        method: 'debora',
        adapters: { targets: /fc/, rank: 8 },
        fw: { tau: 4, epsilon: 1e-3, schedule } as never,
      }).fw?.schedule;
    expect(fw(null)).toBeNull();
    expect(fw({ warmup: 3, decaySteps: 10, tauEnd: 2 })).toEqual({ warmup: 3, decaySteps: 10, tauEnd: 2 });
    const l = validateTrainerConfig({ method: 'lora', adapters: { targets: 'fc1', rank: 2 } });
    expect(l.adapters?.geometry).toBe('euclidean');
    expect(l.adapters?.scale).toBe(1);
    expect(l.fw).toBeNull();
    expect(validateTrainerConfig({ method: 'full' }).inner.lr).toBe(1e-3);
    expect(validateTrainerConfig({ method: 'head', inner: { optimizer: 'sgd' } }).inner.momentum).toBe(0.9);
  });

  test('errors name the field and the fix', () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /expected an object \{ method, \.\.\. \}/],
      [{ method: 'dora' }, /'debora', 'lora'.*field 'method', received 'dora'/],
      [{ method: 'debora', fw: { tau: 1, epsilon: 1e-3 } }, /field 'adapters'.*Fix: method 'debora' needs adapters/],
      [{ method: 'debora', adapters: { targets: /fc/, rank: 8 } }, /\{ tau, epsilon, \.\.\. \} for field 'fw'/],
      [
        { method: 'debora', adapters: { targets: /fc/, rank: 0 }, fw: { tau: 1, epsilon: 1e-3 } },
        /field 'adapters\.rank'/,
      ],
      [{ method: 'lora', adapters: { targets: /fc/, rank: 2, rnak: 3 } }, /field 'adapters\.rnak'.*remove or rename/],
      [{ method: 'full', adapters: { targets: /fc/, rank: 2 } }, /nothing for method 'full' for field 'adapters'/],
      [{ method: 'full', inner: { lr: -1 } }, /field 'inner\.lr'/],
      [{ method: 'full', inner: { momentum: 0.9 } }, /field 'inner\.momentum'.*optimizer 'sgd'/],
      [
        { method: 'lora', adapters: { targets: /fc/, rank: 2 }, fw: { tau: 1, epsilon: 1e-3 } },
        /field 'fw'.*only dEBORA/,
      ],
      [
        { method: 'debora', adapters: { targets: /fc/, rank: 2 }, fw: { tau: -1, epsilon: 1e-3 } },
        /TrainerConfig\.fw: .*tau/,
      ],
      [{ method: 'full', split: 'thirds' }, /field 'split'/],
    ];
    for (const [cfg, re] of cases) {
      const e = err(cfg);
      expect(e.code).toBe('DEBORA_INVALID_CONFIG');
      expect(e.message).toMatch(re);
    }
  });

  test('AdaLoRA: defaults, exactly one target, bounds named', () => {
    const a = validateTrainerConfig({
      method: 'adalora',
      adapters: { targets: /fc/, rank: 8 },
      adalora: { targetRank: 4 },
    });
    expect(a.adapters?.geometry).toBe('euclidean');
    expect(a.inner.lr).toBe(1e-2);
    expect(a.adalora).toEqual({
      targetRank: 4,
      targetParams: null,
      totalSteps: null,
      tInit: null,
      tFinal: null,
      deltaT: 1,
      beta1: 0.85,
      beta2: 0.85,
      minRank: 1,
    });
    const ad = (adalora: unknown) => ({ method: 'adalora', adapters: { targets: /fc/, rank: 8 }, adalora });
    const cases: Array<[unknown, RegExp]> = [
      [{ method: 'adalora', adapters: { targets: /fc/, rank: 8 } }, /field 'adalora'.*Fix: method 'adalora' needs/],
      [ad({}), /exactly one of targetRank and targetParams for field 'adalora\.targetRank', received 'neither'/],
      [ad({ targetRank: 2, targetParams: 100 }), /received 'both'/],
      [ad({ targetRank: 9 }), /field 'adalora\.targetRank'.*\(0, 8\]/],
      [ad({ targetRank: 2, minRank: 3 }), /field 'adalora\.targetRank'.*minRank/],
      [ad({ targetParams: 1.5 }), /field 'adalora\.targetParams'/],
      [ad({ targetRank: 2, beta1: 1 }), /field 'adalora\.beta1'/],
      [ad({ targetRank: 2, deltaT: 0 }), /field 'adalora\.deltaT'/],
      [ad({ targetRank: 2, tfinal: 3 }), /field 'adalora\.tfinal'.*remove or rename/],
      [
        { method: 'lora', adapters: { targets: /fc/, rank: 2 }, adalora: { targetRank: 1 } },
        /field 'adalora'.*method 'adalora'/,
      ],
    ];
    for (const [cfg, re] of cases) {
      const e = err(cfg);
      expect(e.code).toBe('DEBORA_INVALID_CONFIG');
      expect(e.message).toMatch(re);
    }
  });
});
