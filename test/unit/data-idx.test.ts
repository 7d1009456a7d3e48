/**
 * data-idx.test.ts — lib/data/idx.ts: IDX round trips through generated files (raw and gzip),
 * every malformed-file case giving a DeboraError that names the file, the Fashion-MNIST loader on
 * a fixture folder and its install hint, and the real Fashion-MNIST when Debian's package is there.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { classCounts } from '../../lib/data/dataset';
import {
  decodeIdx,
  encodeIdx,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_ROOT,
  loadFashionMnist,
  loadIdxDataset,
  readIdx,
  writeIdx,
} from '../../lib/data/idx';
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
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'debora-idx-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});
const at = (name: string): string => path.join(dir, name);

/** n images of h×w with pixel (i, r, c) = (7i + 3r + c) mod 256, and labels i mod 4. */
function fixture(n: number, h: number, w: number): { pixels: Uint8Array; labels: Uint8Array } {
  const pixels = new Uint8Array(n * h * w);
  for (let i = 0; i < n; i++)
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) pixels[(i * h + r) * w + c] = (7 * i + 3 * r + c) % 256;
  return { pixels, labels: Uint8Array.from({ length: n }, (_, i) => i % 4) };
}

describe('IDX encode/decode', () => {
  test('the header is big-endian magic 0x000008NN then uint32 sizes', () => {
    const b = encodeIdx([2, 3], Uint8Array.from([1, 2, 3, 4, 5, 6]));
    expect(Array.from(b.subarray(0, 12))).toEqual([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]);
    const back = decodeIdx(b);
    expect(back.dims).toEqual([2, 3]);
    expect(Array.from(back.data)).toEqual([1, 2, 3, 4, 5, 6]);
    const big = encodeIdx([70000], new Uint8Array(70000));
    expect(Array.from(big.subarray(4, 8))).toEqual([0, 1, 0x11, 0x70]);
  });

  test('the writer refuses data that does not match the dims', () => {
    const e = thrown(() => encodeIdx([2, 3], new Uint8Array(5)));
    expect(e.code).toBe('DEBORA_SHAPE_MISMATCH');
    expect(e.message).toBe(
      "encodeIdx: expected a Uint8Array of length 6 (2×3) for argument 'data', received a Uint8Array of length 5",
    );
    expect(thrown(() => encodeIdx([-1], new Uint8Array(0))).message).toContain("'dims[0]'");
  });
});

describe('IDX files', () => {
  test.each([
    ['raw', ''],
    ['gzip', '.gz'],
  ])('round trip through %s files into a Dataset', (_kind, ext) => {
    const { pixels, labels } = fixture(5, 3, 4);
    writeIdx(at(`img${ext}`), [5, 3, 4], pixels);
    writeIdx(at(`lab${ext}`), [5], labels);
    const head = fs.readFileSync(at(`img${ext}`));
    expect(head[0] === 0x1f && head[1] === 0x8b).toBe(ext === '.gz');
    expect(readIdx(at(`img${ext}`)).dims).toEqual([5, 3, 4]);
    const ds = loadIdxDataset(at(`img${ext}`), at(`lab${ext}`));
    expect(ds.n).toBe(5);
    expect(ds.sampleShape).toEqual([1, 3, 4]);
    expect(ds.numClasses).toBe(4);
    expect(ds.name).toBe(`img${ext}`);
    for (let k = 0; k < pixels.length; k++) expect(ds.x[k]).toBe(Math.fround(pixels[k]! / 255));
    expect(Array.from(ds.y)).toEqual([0, 1, 2, 3, 0]);
    const raw = loadIdxDataset(at(`img${ext}`), at(`lab${ext}`), { scale: false, numClasses: 10, name: 'fx' });
    expect(Array.from(raw.x.subarray(0, 4))).toEqual([0, 1, 2, 3]);
    expect(raw.numClasses).toBe(10);
    expect(raw.name).toBe('fx');
  });

  test('gzip is detected from the bytes, not the name', () => {
    const { pixels } = fixture(2, 2, 2);
    writeIdx(at('looks-raw'), [2, 2, 2], pixels, { gzip: true });
    writeIdx(at('looks-gz.gz'), [2, 2, 2], pixels, { gzip: false });
    expect(Array.from(readIdx(at('looks-raw')).data)).toEqual(Array.from(pixels));
    expect(Array.from(readIdx(at('looks-gz.gz')).data)).toEqual(Array.from(pixels));
  });

  describe('malformed files give a DeboraError naming the file and the fault', () => {
    const good = (): Buffer => encodeIdx([2, 2, 3], fixture(2, 2, 3).pixels);
    const cases: [string, () => Buffer, RegExp][] = [
      ['empty', () => Buffer.alloc(0), /0 bytes, too short for the 4-byte magic number/],
      [
        'bad magic',
        () => Buffer.from([0x1f, 0x00, 0x08, 0x01, 0, 0, 0, 0]),
        /expected a magic number 0x0000TTNN .* received 0x1f000801/,
      ],
      [
        'float elements',
        () => Buffer.concat([Buffer.from([0, 0, 0x0d, 1, 0, 0, 0, 1]), Buffer.alloc(4)]),
        /element type 0x0d \(float32\) is not supported; only 0x08 \(unsigned byte\) is/,
      ],
      ['zero dimensions', () => Buffer.from([0, 0, 8, 0]), /declares 0 dimensions/],
      [
        'truncated header',
        () => good().subarray(0, 10),
        /truncated header: 3 dimensions need 16 bytes, the file has 10/,
      ],
      [
        'truncated data',
        () => good().subarray(0, good().length - 1),
        /truncated data: dimensions 2×2×3 declare 12 bytes of data, found 11/,
      ],
      ['trailing bytes', () => Buffer.concat([good(), Buffer.alloc(3)]), /3 unexpected trailing bytes/],
      [
        'huge declared size',
        () => Buffer.from([0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1]),
        /truncated data: dimensions 4294967295×4294967295×4294967295 declare .* bytes of data, found 1/,
      ],
      ['truncated gzip', () => gzipSync(good()).subarray(0, 20), /gzip data cannot be decompressed/],
      [
        'gzip magic then junk',
        () => Buffer.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8]),
        /gzip data cannot be decompressed/,
      ],
    ];
    test.each(cases)('%s', (name, bytes, pattern) => {
      const file = at(`bad-${name.replace(/ /g, '-')}`);
      fs.writeFileSync(file, bytes());
      const e = thrown(() => readIdx(file));
      expect(e.name).toBe('DeboraError');
      expect(e.code).toBe('DEBORA_INVALID_ARG');
      expect(e.message).toContain(`'${file}'`);
      expect(e.message).toMatch(pattern);
    });
  });

  test('a missing file, swapped files, mismatched counts and bad labels are clear errors', () => {
    const { pixels, labels } = fixture(4, 2, 2);
    writeIdx(at('i4'), [4, 2, 2], pixels);
    writeIdx(at('l4'), [4], labels);
    writeIdx(at('l3'), [3], labels.subarray(0, 3));
    const missing = thrown(() => readIdx(at('nope')));
    expect(missing.message).toBe(`readIdx: cannot read file '${at('nope')}' (ENOENT)`);
    const swapped = thrown(() => loadIdxDataset(at('l4'), at('i4')));
    expect(swapped.message).toBe(
      `loadIdxDataset: malformed IDX file '${at('l4')}': expected an image file (magic 0x00000803: n × height × width), received 1 dimensions`,
    );
    const count = thrown(() => loadIdxDataset(at('i4'), at('l3')));
    expect(count.code).toBe('DEBORA_SHAPE_MISMATCH');
    expect(count.message).toBe(
      `loadIdxDataset: expected 4 labels in '${at('l3')}' (one per image of '${at('i4')}'), received 3`,
    );
    const cls = thrown(() => loadIdxDataset(at('i4'), at('l4'), { numClasses: 3 }));
    expect(cls.message).toBe(`loadIdxDataset: malformed IDX file '${at('l4')}': label 3 at index 3 is outside [0, 3)`);
  });
});

describe('loadFashionMnist', () => {
  test('reads the four files of a folder (fixture), gzip or not', () => {
    const root = at('fashion');
    fs.mkdirSync(root);
    const { pixels, labels } = fixture(6, 28, 28);
    writeIdx(path.join(root, 'train-images-idx3-ubyte.gz'), [6, 28, 28], pixels);
    writeIdx(path.join(root, 'train-labels-idx1-ubyte.gz'), [6], labels);
    writeIdx(path.join(root, 't10k-images-idx3-ubyte'), [2, 28, 28], pixels.subarray(0, 2 * 784));
    writeIdx(path.join(root, 't10k-labels-idx1-ubyte'), [2], labels.subarray(0, 2));
    const train = loadFashionMnist({ root });
    expect(train.name).toBe('fashion-mnist:train');
    expect(train.n).toBe(6);
    expect(train.numClasses).toBe(10);
    expect(train.classNames).toEqual(FASHION_MNIST_CLASSES);
    const test = loadFashionMnist({ root, split: 'test' });
    expect(test.n).toBe(2);
    expect(test.x[785]).toBe(Math.fround(8 / 255)); // image 1, pixel (0, 1): 7 + 1
  });

  test('a missing install says how to get it', () => {
    const e = thrown(() => loadFashionMnist({ root: at('empty-root') }));
    expect(e.name).toBe('DeboraError');
    expect(e.code).toBe('DEBORA_INVALID_CONFIG');
    expect(e.message).toContain('apt-get install -y dataset-fashion-mnist');
    expect(e.message).toContain(`'train-images-idx3-ubyte.gz'`);
    expect(thrown(() => loadFashionMnist({ split: 'val' as never })).message).toContain("'options.split'");
  });

  const installed = fs.existsSync(path.join(FASHION_MNIST_ROOT, 'train-images-idx3-ubyte.gz'));
  const maybe = installed ? test : test.skip;
  maybe(
    `real Fashion-MNIST from ${FASHION_MNIST_ROOT} (skipped unless \`apt-get install -y dataset-fashion-mnist\`)`,
    () => {
      const train = loadFashionMnist();
      const test = loadFashionMnist({ split: 'test' });
      expect(train.n).toBe(60000);
      expect(test.n).toBe(10000);
      expect(train.sampleShape).toEqual([1, 28, 28]);
      expect(Array.from(classCounts(train))).toEqual(new Array(10).fill(6000));
      expect(Array.from(classCounts(test))).toEqual(new Array(10).fill(1000));
      let lo = Infinity;
      let hi = -Infinity;
      let sum = 0;
      const x = test.x;
      for (let i = 0; i < x.length; i++) {
        const v = x[i]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        sum += v;
      }
      expect(lo).toBe(0);
      expect(hi).toBe(1);
      // Fashion-MNIST's mean pixel is about 0.286 (72.9 / 255).
      expect(sum / test.x.length).toBeGreaterThan(0.25);
      expect(sum / test.x.length).toBeLessThan(0.32);
    },
  );
});
