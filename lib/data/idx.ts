/**
 * idx.ts — the IDX format of MNIST and Fashion-MNIST (big-endian magic 0x0000TTNN: element type TT,
 * NN dimensions, then NN uint32 sizes and the data): a validating decoder (gzip detected), a small
 * encoder/writer for test fixtures, and loaders to a Dataset, Fashion-MNIST from Debian's package.
 * Tested in test/unit/data-idx.test.ts (generated files; the real Fashion-MNIST when installed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeboraError } from '../errors';
import { describe, int, invalid, oneOf } from '../validate';
import { build, type Dataset } from './dataset';
import { readMaybeGzip, writeAtomic } from './files';

/** The only IDX element type supported: unsigned byte. */
export const IDX_UBYTE = 0x08;

const IDX_TYPE_NAMES: Record<number, string> = {
  8: 'unsigned byte',
  9: 'signed byte',
  11: 'int16',
  12: 'int32',
  13: 'float32',
  14: 'float64',
};

/** A decoded IDX array: its dimensions and its bytes (row-major). */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

function malformed(where: string, source: string, what: string): never {
  throw new DeboraError(`${where}: malformed IDX file '${source}': ${what}`, 'DEBORA_INVALID_ARG');
}

const hex = (v: number, digits = 8): string => `0x${v.toString(16).padStart(digits, '0')}`;

/**
 * Decodes an IDX array of unsigned bytes, checking the magic, the element type, the header and
 * that the declared size is exactly the size of the data (a truncated or padded file is an error,
 * never an out-of-bounds read). `source` names the file in error messages.
 */
export function decodeIdx(bytes: Uint8Array, source = '<buffer>', where = 'decodeIdx'): IdxArray {
  if (!(bytes instanceof Uint8Array)) invalid(where, 'bytes', 'a Uint8Array', describe(bytes));
  if (bytes.length < 4) malformed(where, source, `${bytes.length} bytes, too short for the 4-byte magic number`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const type = bytes[2]!;
  const ndims = bytes[3]!;
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    malformed(where, source, `expected a magic number 0x0000TTNN (e.g. 0x00000803 for images), received ${hex(magic)}`);
  }
  if (type !== IDX_UBYTE) {
    const name = IDX_TYPE_NAMES[type] ?? 'unknown';
    malformed(where, source, `element type ${hex(type, 2)} (${name}) is not supported; only 0x08 (unsigned byte) is`);
  }
  if (ndims === 0) malformed(where, source, 'magic number declares 0 dimensions');
  const header = 4 + 4 * ndims;
  if (bytes.length < header) {
    malformed(
      where,
      source,
      `truncated header: ${ndims} dimensions need ${header} bytes, the file has ${bytes.length}`,
    );
  }
  const dims: number[] = [];
  let size = 1;
  for (let k = 0; k < ndims; k++) {
    const s = view.getUint32(4 + 4 * k, false);
    dims.push(s);
    size *= s; // exact: stays below 2^53 until it already exceeds any file size, and then it is rejected
  }
  const have = bytes.length - header;
  if (size !== have) {
    const what = size > have ? `truncated data` : `${have - size} unexpected trailing bytes`;
    malformed(where, source, `${what}: dimensions ${dims.join('×')} declare ${size} bytes of data, found ${have}`);
  }
  return { dims, data: bytes.subarray(header) };
}

/** Encodes unsigned bytes with the given dimensions as IDX (magic 0x000008NN). */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Buffer {
  const where = 'encodeIdx';
  if (!Array.isArray(dims) || dims.length < 1 || dims.length > 255) {
    invalid(where, 'dims', 'an array of 1 to 255 sizes', describe(dims));
  }
  for (let k = 0; k < dims.length; k++) int(where, `dims[${k}]`, dims[k], 0, 0xffffffff);
  if (!(data instanceof Uint8Array)) invalid(where, 'data', 'a Uint8Array', describe(data));
  const size = dims.reduce((a, s) => a * s, 1);
  if (data.length !== size) {
    invalid(
      where,
      'data',
      `a Uint8Array of length ${size} (${dims.join('×')})`,
      describe(data),
      'DEBORA_SHAPE_MISMATCH',
    );
  }
  const header = 4 + 4 * dims.length;
  const out = Buffer.alloc(header + size);
  out[2] = IDX_UBYTE;
  out[3] = dims.length;
  for (let k = 0; k < dims.length; k++) out.writeUInt32BE(dims[k]!, 4 + 4 * k);
  out.set(data, header);
  return out;
}

/** Reads an IDX file (gzip or raw, detected from its first bytes). */
export function readIdx(file: string): IdxArray {
  return decodeIdx(readMaybeGzip('readIdx', file), file, 'readIdx');
}

/** Writes an IDX file atomically; gzip-compressed by default when the name ends in `.gz`. */
export function writeIdx(
  file: string,
  dims: readonly number[],
  data: Uint8Array,
  options: { gzip?: boolean } = {},
): void {
  if (typeof file !== 'string' || file.length === 0) invalid('writeIdx', 'file', 'a file path', describe(file));
  const gzip = options.gzip ?? file.endsWith('.gz');
  if (typeof gzip !== 'boolean') invalid('writeIdx', 'options.gzip', 'a boolean', describe(gzip));
  writeAtomic('writeIdx', file, encodeIdx(dims, data), gzip);
}

/** Options of `loadIdxDataset`. */
export interface IdxDatasetOptions {
  /** Scale pixel values 0..255 to [0, 1] (default true); false keeps 0..255. */
  scale?: boolean;
  /** Default: the images file name. */
  name?: string;
  /** Default: largest label + 1. */
  numClasses?: number;
  classNames?: readonly string[];
}

/**
 * Loads an image file (magic 0x00000803: n × height × width) and a label file (0x00000801: n) into
 * a data set of sample shape [1, height, width].
 */
export function loadIdxDataset(imagesPath: string, labelsPath: string, options: IdxDatasetOptions = {}): Dataset {
  const where = 'loadIdxDataset';
  const scale = options.scale ?? true;
  if (typeof scale !== 'boolean') invalid(where, 'options.scale', 'a boolean', describe(scale));
  const images = decodeIdx(readMaybeGzip(where, imagesPath), imagesPath, where);
  if (images.dims.length !== 3) {
    malformed(
      where,
      imagesPath,
      `expected an image file (magic 0x00000803: n × height × width), received ${images.dims.length} dimensions`,
    );
  }
  const labels = decodeIdx(readMaybeGzip(where, labelsPath), labelsPath, where);
  if (labels.dims.length !== 1) {
    malformed(
      where,
      labelsPath,
      `expected a label file (magic 0x00000801: n), received ${labels.dims.length} dimensions`,
    );
  }
  const [n, h, w] = images.dims as [number, number, number];
  if (labels.dims[0] !== n) {
    throw new DeboraError(
      `${where}: expected ${n} labels in '${labelsPath}' (one per image of '${imagesPath}'), received ${labels.dims[0]}`,
      'DEBORA_SHAPE_MISMATCH',
    );
  }
  if (h === 0 || w === 0) malformed(where, imagesPath, `images of size ${h}×${w}`);
  let maxLabel = -1;
  for (const l of labels.data) if (l > maxLabel) maxLabel = l;
  const numClasses =
    options.numClasses === undefined
      ? Math.max(maxLabel + 1, 1)
      : int(where, 'options.numClasses', options.numClasses, 1);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = labels.data[i]!;
    if (l >= numClasses) {
      malformed(where, labelsPath, `label ${l} at index ${i} is outside [0, ${numClasses})`);
    }
    y[i] = l;
  }
  // A lookup table: exact k/255 in float32 and no division per pixel (47M of them for Fashion-MNIST).
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = scale ? v / 255 : v;
  const x = new Float32Array(images.data.length);
  const src = images.data;
  for (let i = 0; i < src.length; i++) x[i] = lut[src[i]!]!;
  let classNames: readonly string[] | undefined;
  if (options.classNames !== undefined) {
    const cn = options.classNames;
    if (!Array.isArray(cn) || cn.length !== numClasses)
      invalid(where, 'options.classNames', `${numClasses} names`, describe(cn));
    classNames = cn;
  }
  const name = options.name ?? path.basename(imagesPath);
  if (typeof name !== 'string') invalid(where, 'options.name', 'a string', describe(name));
  return build(name, x, y, [1, h, w], numClasses, classNames);
}

/** Where Debian's `dataset-fashion-mnist` package installs the files. */
export const FASHION_MNIST_ROOT = '/usr/share/datasets/fashion-mnist';

/** The ten Fashion-MNIST classes, in label order. */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

/** Options of `loadFashionMnist`. */
export interface FashionMnistOptions {
  /** Folder with the four IDX files (gzip or not). Default FASHION_MNIST_ROOT. */
  root?: string;
  /** 'train' (60,000 images) or 'test' (10,000). Default 'train'. */
  split?: 'train' | 'test';
  /** Scale to [0, 1] (default true). */
  scale?: boolean;
}

/**
 * Loads Fashion-MNIST (28×28 grey images in [0, 1], 10 classes, sample shape [1, 28, 28]) from the
 * files of Debian's `dataset-fashion-mnist`, or any folder with the same four files.
 */
export function loadFashionMnist(options: FashionMnistOptions = {}): Dataset {
  const where = 'loadFashionMnist';
  const root = options.root ?? FASHION_MNIST_ROOT;
  if (typeof root !== 'string') invalid(where, 'options.root', 'a folder path', describe(root));
  const split = oneOf(where, 'options.split', options.split ?? 'train', ['train', 'test'] as const);
  const prefix = split === 'train' ? 'train' : 't10k';
  const find = (stem: string): string => {
    for (const candidate of [`${stem}.gz`, stem]) {
      const p = path.join(root, candidate);
      if (fs.existsSync(p)) return p;
    }
    throw new DeboraError(
      `${where}: Fashion-MNIST not found: expected '${stem}.gz' (or '${stem}') in '${root}'. ` +
        'Install it with `apt-get install -y dataset-fashion-mnist` (Debian, after `apt-get update`), ' +
        'or pass { root } naming a folder with the four IDX files.',
      'DEBORA_INVALID_CONFIG',
    );
  };
  const images = find(`${prefix}-images-idx3-ubyte`);
  const labels = find(`${prefix}-labels-idx1-ubyte`);
  return loadIdxDataset(images, labels, {
    scale: options.scale ?? true,
    name: `fashion-mnist:${split}`,
    numClasses: 10,
    classNames: FASHION_MNIST_CLASSES,
  });
}
