/**
 * workspace.test.ts — the batch ops allocate nothing that grows with the batch (issue 3: "no allocation that
 * grows with N inside the hot path except the outputs; workspaces are reused"). A fresh Node process (so no
 * memory freed by earlier tests can hide a new allocation) holds every input and output at the largest batch,
 * written once so their pages are resident, then calls cp_linear (fwd + bwd) and cp_conv2d (fwd + bwd) on two
 * threads on growing prefixes of them (subarray views: no new arrays) and reports its resident set, now and at
 * its peak, after each size.
 * After a warm-up at the smallest batch (which sizes the thread-local workspaces), the resident set may not grow
 * by more than 8 MiB up to a batch 64 times larger, where one float per input element would be 16 MiB (cp_linear)
 * or 32 MiB (cp_conv2d): a workspace proportional to the batch fails, a fixed one passes.
 */
import { spawnSync } from 'node:child_process';
import { addonPath } from '../../lib/native';

const CHILD = `
const a = require(process.argv[1]);
// Two threads whatever the machine: the tile and chunk counts (and so how many threads' workspaces a small
// warm-up batch reaches) depend on the pool size.
a.setNumThreads(2);
// Resident now and at the peak so far: a buffer allocated and freed inside a call shows in the peak.
const rss = () => [process.memoryUsage.rss() / 2 ** 20, process.resourceUsage().maxRSS / 1024];
const fill = (n, seed) => {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (((i + seed) * 2654435761) % 2003) / 2003 - 0.5;
  return v;
};
const out = {};
{ // cp_linear: n_in = n_out = r = 64, N up to 65536 (16 MiB per N x 64 array)
  const n = 64, r = 64, Nmax = 65536;
  const X = fill(Nmax * n, 1), dY = fill(Nmax * n, 2), Y = fill(Nmax * n, 3), dX = fill(Nmax * n, 4), Z = fill(Nmax * r, 5);
  const U = fill(n * r, 6), V = fill(n * r, 7), s = fill(r, 8).map((x) => x + 1);
  const dU = new Float32Array(n * r), dV = new Float32Array(n * r), ds = new Float32Array(r), dots = new Float32Array(r);
  const pair = (N) => {
    a.cpLinearFwd(0, N, n, n, r, X.subarray(0, N * n), U, V, s, Y.subarray(0, N * n), false, Z.subarray(0, N * r));
    a.cpLinearBwd(0, N, n, n, r, X.subarray(0, N * n), U, V, s, dY.subarray(0, N * n), Z.subarray(0, N * r),
      dX.subarray(0, N * n), false, dU, dV, ds, dots);
  };
  pair(1024); pair(1024);
  out.linear = { base: rss(), after: [4096, 16384, 65536].map((N) => { pair(N); pair(N); return rss(); }) };
}
{ // cp_conv2d: C = F = 32, 32 x 32, 3 x 3, r = 8, batch up to 256 (32 MiB per batch x C x H x W array)
  const C = 32, H = 32, r = 8, Bmax = 256, img = C * H * H;
  const X = fill(Bmax * img, 11), dY = fill(Bmax * img, 12), Y = fill(Bmax * img, 13), dX = fill(Bmax * img, 14);
  const U1 = fill(C * r, 15), U2 = fill(C * r, 16), U3 = fill(3 * r, 17), U4 = fill(3 * r, 18), s = fill(r, 19);
  const dU1 = new Float32Array(C * r), dU2 = new Float32Array(C * r), dU3 = new Float32Array(3 * r);
  const dU4 = new Float32Array(3 * r), ds = new Float32Array(r), dots = new Float32Array(r);
  const pair = (B) => {
    const geom = [B, C, H, H, C, 3, 3, 1, 1, 1, 1, 1, 1], v = (t) => t.subarray(0, B * img);
    a.cpConv2dFwd(0, geom, r, v(X), U1, U2, U3, U4, s, v(Y), false);
    a.cpConv2dBwd(0, geom, r, v(X), U1, U2, U3, U4, s, v(dY), v(dX), false, dU1, dU2, dU3, dU4, ds, dots);
  };
  pair(4); pair(4);
  out.conv = { base: rss(), after: [16, 64, 256].map((B) => { pair(B); pair(B); return rss(); }) };
}
console.log(JSON.stringify(out));
`;

const GROWTH_MIB = 8;

test('cp_linear and cp_conv2d: resident memory does not grow with the batch (fresh process)', () => {
  const child = spawnSync(process.execPath, ['-e', CHILD, addonPath()], { encoding: 'utf8', timeout: 120_000 });
  expect({ status: child.status, stderr: child.stderr }).toMatchObject({ status: 0 });
  type Mib = [number, number]; // [resident, peak]
  const got = JSON.parse(child.stdout.trim()) as Record<'linear' | 'conv', { base: Mib; after: Mib[] }>;
  for (const op of ['linear', 'conv'] as const) {
    const { base, after } = got[op];
    expect(after).toHaveLength(3);
    for (const [now, peak] of after) {
      expect(now - base[0]).toBeLessThan(GROWTH_MIB);
      expect(peak - base[1]).toBeLessThan(GROWTH_MIB);
    }
  }
});
