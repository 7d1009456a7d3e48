/**
 * trainer-config.test.ts — the trainer's validated configuration: defaults, and errors that name
 * the field and the fix (DEBORA_INVALID_CONFIG), unknown fields refused, AdaLoRA not implemented.
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
    expect(err({ method: 'adalora' }).code).toBe('DEBORA_NOT_IMPLEMENTED');
  });
});
