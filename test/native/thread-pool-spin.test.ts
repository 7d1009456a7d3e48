/**
 * thread-pool-spin.test.ts — the pool's polling before it sleeps (DEBORA_SPIN_US, read once when the
 * pool starts, so each setting runs in its own process): with polling off, on, very long, or an
 * unusable value (the default is kept), a sequence of multi-threaded ops, sync and async and
 * interleaved with pauses longer and shorter than the poll, gives bitwise the same results as the
 * default, and every process exits promptly (a worker still polling must not keep it alive).
 * Uses the compiled package in dist/ (built by `npm run build`, as .ci/run does).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');

// Runs cp_linear fwd + bwd (N = 700: several chunks on two threads) 30 times with pauses of 0,
// 50 and 500 µs between calls and an async call every fifth time, and prints a digest of all outputs.
const script = `
const d = require(${JSON.stringify(path.join(root, 'dist'))});
const crypto = require('node:crypto');
d.setNumThreads(2);
const rand = (n, seed) => { const x = new Float32Array(n); let v = seed >>> 0; for (let i = 0; i < n; i++) { v = (v * 1664525 + 1013904223) >>> 0; x[i] = v / 4294967296 - 0.5; } return x; };
const [N, nIn, nOut, r] = [700, 97, 131, 11];
const p = { N, nIn, nOut, r, X: rand(N * nIn, 1), U: rand(nOut * r, 2), V: rand(nIn * r, 3), s: rand(r, 4).map((v) => v + 1), dY: rand(N * nOut, 5) };
const h = crypto.createHash('sha256');
const pause = (us) => { const end = process.hrtime.bigint() + BigInt(us) * 1000n; while (process.hrtime.bigint() < end) {} };
(async () => {
  for (let i = 0; i < 30; i++) {
    pause([0, 50, 500][i % 3]);
    const { Y } = i % 5 === 4 ? await d.cpLinearForwardAsync(p) : d.cpLinearForward(p);
    const g = i % 5 === 4 ? await d.cpLinearBackwardAsync(p) : d.cpLinearBackward(p);
    for (const a of [Y, g.dX, g.dU, g.dV, g.ds]) h.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  }
  console.log(h.digest('hex'));
})();
`;

function run(spin: string | undefined): { digest: string; ms: number } {
  const env: NodeJS.ProcessEnv = { ...process.env, DEBORA_BACKEND: 'cpu' }; // no 'auto' fallback warning
  delete env.DEBORA_SPIN_US;
  if (spin !== undefined) env.DEBORA_SPIN_US = spin;
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['-e', script], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr.trim()).toBe('');
  expect(r.status).toBe(0);
  return { digest: r.stdout.trim(), ms: Date.now() - t0 };
}

test('polling off, default, long and unusable settings give bitwise the same results and exit promptly', () => {
  const base = run(undefined);
  expect(base.digest).toMatch(/^[0-9a-f]{64}$/);
  for (const spin of ['0', '100', '100000', 'fast', '-5']) {
    const r = run(spin);
    expect({ spin, digest: r.digest }).toEqual({ spin, digest: base.digest });
    // 30 iterations of small ops: even a worker polling for 100 ms at exit must not hold the process
    expect(r.ms).toBeLessThan(20_000);
  }
});
