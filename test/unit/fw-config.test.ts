/**
 * fw-config.test.ts — the Frank-Wolfe configuration and layout (lib/fw/config.ts, lib/fw/blocks.ts):
 * defaults, scopes, and every bad configuration rejected with DEBORA_INVALID_CONFIG naming the
 * field and the fix; bad adapters and s0 rejected with DEBORA_INVALID_ARG.
 */
import { buildLayout, validateAdapters } from '../../lib/fw/blocks';
import { type FrankWolfeConfig, validateFrankWolfeConfig } from '../../lib/fw/config';
import { SimplexFrankWolfe } from '../../lib/fw/stepper';
import type { AdapterSpec } from '../../lib/fw/types';

const adapters: AdapterSpec[] = [
  { name: 'q', rank: 4, group: 'attn' },
  { name: 'mlp', rank: 3, group: 'ffn' },
  { name: 'v', rank: 2, group: 'attn' },
];

function rejects(config: unknown, field: string, extra?: RegExp, specs: AdapterSpec[] = adapters): void {
  let err: unknown;
  try {
    new SimplexFrankWolfe(config as FrankWolfeConfig, specs);
  } catch (e) {
    err = e;
  }
  expect(err).toBeDefined();
  const e = err as { name: string; code: string; message: string };
  expect(e.name).toBe('DeboraError');
  expect(e.code).toBe('DEBORA_INVALID_CONFIG');
  expect(e.message).toContain(`argument '${field}'`);
  expect(e.message).toContain('Fix:');
  if (extra) expect(e.message).toMatch(extra);
}

describe('defaults', () => {
  test('only tau and epsilon are required', () => {
    const c = validateFrankWolfeConfig({ tau: 4, epsilon: 1e-4 });
    expect(c).toEqual({
      tau: 4,
      epsilon: 1e-4,
      gapTol: 1e-6,
      scope: 'global',
      variant: 'away',
      stepSize: { rule: 'open-loop', ell: 2, offset: 6 },
      truncateFrom: null,
      minRank: 1,
      supportTol: 1e-12,
      face: { stableSteps: 10, freezeOnIdentify: false, gapBelow: null },
      schedule: { warmup: 0, decaySteps: 0, tauEnd: null, shape: 'cubic', freezeAt: null },
    });
    // JSON round trip (it is stored in checkpoints)
    expect(JSON.parse(JSON.stringify(c))).toEqual(c);
  });
  test('default s0 spreads each block budget evenly', () => {
    const fw = new SimplexFrankWolfe({ tau: { attn: 3, ffn: 1.5 }, epsilon: 0.01, scope: 'group' }, adapters);
    expect(Array.from(fw.sOf('q'))).toEqual([0.01 + 3 / 6, 0.01 + 3 / 6, 0.01 + 3 / 6, 0.01 + 3 / 6]);
    expect(Array.from(fw.sOf('mlp'))).toEqual([0.01 + 0.5, 0.01 + 0.5, 0.01 + 0.5]);
  });
});

describe('layout and scopes', () => {
  test('global: one block over everything, adapters in declaration order', () => {
    const l = buildLayout(adapters, 'global');
    expect(l.dim).toBe(9);
    expect(l.blocks.map((b) => [b.name, b.rank, Array.from(b.ranges)])).toEqual([['global', 9, [0, 4, 4, 7, 7, 9]]]);
    expect(l.adapters.map((a) => a.offset)).toEqual([0, 4, 7]);
  });
  test('adapter: one block per adapter', () => {
    const l = buildLayout(adapters, 'adapter');
    expect(l.blocks.map((b) => [b.name, b.rank])).toEqual([
      ['q', 4],
      ['mlp', 3],
      ['v', 2],
    ]);
  });
  test('group: blocks in order of first appearance, members may be non-contiguous', () => {
    const l = buildLayout(adapters, 'group');
    expect(l.blocks.map((b) => [b.name, b.rank, Array.from(b.ranges)])).toEqual([
      ['attn', 6, [0, 4, 7, 9]],
      ['ffn', 3, [4, 7]],
    ]);
    expect(l.adapters.map((a) => a.block)).toEqual([0, 1, 0]);
  });
  test('bad adapters are rejected with the argument named', () => {
    const bad: [unknown, RegExp][] = [
      [[], /non-empty array/],
      [[{ name: 'a', rank: 0 }], /adapters\[0\]\.rank/],
      [[{ name: 'a', rank: 2.5 }], /adapters\[0\]\.rank/],
      [[{ name: '', rank: 2 }], /adapters\[0\]\.name/],
      [
        [
          { name: 'a', rank: 2 },
          { name: 'a', rank: 1 },
        ],
        /adapters\[1\]\.name.*'a' again/,
      ],
    ];
    for (const [specs, msg] of bad) {
      expect(() => validateAdapters('X', specs, 'global')).toThrow(msg);
    }
    expect(() => validateAdapters('X', [{ name: 'a', rank: 2 }], 'group')).toThrow(
      /scope is 'group'.*argument 'adapters\[0\]\.group'/,
    );
  });
});

describe('bad configuration names the field and the fix', () => {
  test.each([
    [{ tau: 0, epsilon: 1e-3 }, 'tau'],
    [{ tau: -2, epsilon: 1e-3 }, 'tau'],
    [{ tau: Number.NaN, epsilon: 1e-3 }, 'tau'],
    [{ tau: Number.POSITIVE_INFINITY, epsilon: 1e-3 }, 'tau'],
    [{ epsilon: 1e-3 }, 'tau'],
    [{ tau: 2, epsilon: 0 }, 'epsilon'],
    [{ tau: 2, epsilon: -1e-3 }, 'epsilon'],
    [{ tau: 2, epsilon: '1e-3' }, 'epsilon'],
    [{ tau: 2, epsilon: 1e-3, truncateFrom: -1 }, 'truncateFrom'],
    [{ tau: 2, epsilon: 1e-3, truncateFrom: 1.5 }, 'truncateFrom'],
    [{ tau: 2, epsilon: 1e-3, gapTol: 0 }, 'gapTol'],
    [{ tau: 2, epsilon: 1e-3, scope: 'layer' }, 'scope'],
    [{ tau: 2, epsilon: 1e-3, variant: 'blended' }, 'variant'],
    [{ tau: 2, epsilon: 1e-3, minRank: 0 }, 'minRank'],
    [{ tau: 2, epsilon: 1e-3, supportTol: 0.1 }, 'supportTol'],
    [{ tau: 2, epsilon: 1e-3, face: { stableSteps: 0 } }, 'face.stableSteps'],
    [{ tau: 2, epsilon: 1e-3, face: { freezeOnIdentify: 'yes' } }, 'face.freezeOnIdentify'],
    [{ tau: 2, epsilon: 1e-3, stepSize: { rule: 'armijo' } }, 'stepSize.rule'],
    [{ tau: 2, epsilon: 1e-3, stepSize: { rule: 'short' } }, 'stepSize.M'],
    [{ tau: 2, epsilon: 1e-3, stepSize: { rule: 'adaptive', eta: 1.5 } }, 'stepSize.eta'],
    [{ tau: 2, epsilon: 1e-3, stepSize: { rule: 'adaptive', growth: 1 } }, 'stepSize.growth'],
    [{ tau: 2, epsilon: 1e-3, stepSize: { rule: 'constant', alpha: 2 } }, 'stepSize.alpha'],
    [{ tau: 2, epsilon: 1e-3, stepSize: { rule: 'short', M: 1, ell: 2 } }, 'stepSize.ell'],
    [{ tau: 2, epsilon: 1e-3, epsilom: 1e-3 }, 'epsilom'],
  ])('%j → %s', (config, field) => {
    rejects(config, field);
  });

  test('ε·r ≥ τ is rejected with the block, the bound and the fix', () => {
    rejects(
      { tau: 0.05, epsilon: 0.01 },
      'epsilon',
      /epsilon·r < tau for block 'global' \(r = 9, tau = 0.05\).*lower epsilon below/,
    );
    // per block: the small block 'v' (r = 2) fits, the big one 'q' (r = 4) does not
    rejects({ tau: { q: 0.03, mlp: 1, v: 1 }, epsilon: 0.01, scope: 'adapter' }, 'epsilon', /block 'q'/);
  });
  test('a τ record must name exactly the blocks', () => {
    rejects({ tau: { attn: 1 }, epsilon: 1e-3, scope: 'group' }, 'tau.ffn', /add tau\.ffn/);
    rejects(
      { tau: { attn: 1, ffn: 1, mlp: 1 }, epsilon: 1e-3, scope: 'group' },
      'tau.mlp',
      /blocks under scope 'group': attn, ffn/,
    );
  });
});

describe('bad s0 is rejected (DEBORA_INVALID_ARG)', () => {
  const config = { tau: 1, epsilon: 0.01 };
  const specs = [{ name: 'a', rank: 3 }];
  test.each([
    [[0.2, 0.005, 0.2], /values >= epsilon/],
    [[0.6, 0.6, 0.02], /Σ\(s_i − ε\) <= tau/],
    [[0.2, 0.2], /length 3/],
    [[0.2, Number.NaN, 0.2], /finite values.*index 1/],
  ])('%j', (s0, msg) => {
    expect(() => new SimplexFrankWolfe(config, specs, { s0 })).toThrow(msg);
  });
});
