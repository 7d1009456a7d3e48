/**
 * cuda.test.ts — GPU tier: every CUDA op against its CPU twin through the Node API. Without a
 * usable GPU each test is skipped with the reason in its title (and printed once), never passed
 * silently. The C++ parity driver (test/gpu/parity.cpp) covers the same ops on the GPU machine.
 */
import { cpHypergrad, info } from '../../lib';
import { poisoned, uniform } from '../helpers/random';

const cuda = info().cuda;
const reason = cuda.available ? '' : ` [SKIPPED: no usable GPU: ${cuda.reason}]`;
const gpuTest = cuda.available ? test : test.skip;
if (!cuda.available) process.stderr.write(`test/gpu: skipping the GPU tier: ${cuda.reason}\n`);

describe(`CUDA vs CPU parity${reason}`, () => {
  gpuTest.each([1, 255, 256, 257, 100003])(`cp_hypergrad r = %i is bitwise equal to the CPU twin${reason}`, (r) => {
    const ds = uniform(1 + r, r, -3, 3);
    const s = uniform(2 + r, r, 1e-3, 4);
    const dots = uniform(3 + r, r, -3, 3);
    const cpu = cpHypergrad(ds, s, dots, { backend: 'cpu', out: poisoned(r) });
    const gpu = cpHypergrad(ds, s, dots, { backend: 'cuda', out: poisoned(r) });
    expect(Array.from(gpu)).toEqual(Array.from(cpu));
  });

  gpuTest(`cp_hypergrad on CUDA rejects s <= 0 without writing${reason}`, () => {
    const out = new Float32Array(3).fill(7);
    const x = new Float32Array([1, 2, 3]);
    expect(() => cpHypergrad(x, new Float32Array([1, -1, 1]), x, { backend: 'cuda', out })).toThrow(/argument 's'/);
    expect(Array.from(out)).toEqual([7, 7, 7]);
  });
});
