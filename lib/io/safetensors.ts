/**
 * safetensors.ts — reader and writer of the safetensors format (8-byte little-endian header
 * length, a JSON header of { name: { dtype, shape, data_offsets } } plus optional string-valued
 * `__metadata__`, then the raw little-endian tensor bytes). Everything is validated on read —
 * header size bounded, JSON well formed, dtypes known, offsets inside the data and in order
 * without gaps or overlaps, shape × dtype size = byte length — so a malformed file gives a clear
 * DeboraError, never a crash or an out-of-bounds read. Writes are atomic (temp file + rename).
 * Tested in test/unit/safetensors.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeboraError } from '../errors';

/** The dtypes this library reads and writes (the rest of the format's dtypes are refused by name). */
export type SafetensorsDtype = 'F32' | 'F64' | 'I32' | 'I64' | 'U8' | 'F16' | 'BF16';
const DTYPE_SIZE: Record<SafetensorsDtype, number> = { F32: 4, F64: 8, I32: 4, I64: 8, U8: 1, F16: 2, BF16: 2 };

/** One tensor: typed data (F16/BF16 are converted to Float32Array on read) and its shape. */
export interface SafeTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
}

/** A file's content: tensors by name, and the string metadata. */
export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** Largest header accepted (the reference implementation's limit is 100 MB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function bad(source: string, what: string): never {
  throw new DeboraError(`safetensors: ${source} is not a valid safetensors file: ${what}`, 'DEBORA_INVALID_ARG');
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (m / 1024);
  if (e === 31) return m === 0 ? s * Infinity : Number.NaN;
  return s * 2 ** (e - 15) * (1 + m / 1024);
}

/**
 * obj[key] = value as an own property. Plain assignment with key '__proto__' would set the prototype
 * instead (a tensor or metadata key '__proto__' would silently vanish); JSON.parse creates such keys
 * as own properties, so this keeps reader and writer symmetric with it.
 */
function ownKey(obj: object, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Parses a safetensors byte buffer; `source` names it in errors (a path, or 'buffer'). */
export function decodeSafetensors(bytes: Uint8Array, source = 'buffer'): SafetensorsFile {
  if (bytes.length < 8) bad(source, `${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = view.getBigUint64(0, true);
  if (hlen > BigInt(MAX_HEADER_BYTES)) bad(source, `header length ${hlen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(hlen);
  if (8 + n > bytes.length)
    bad(source, `header length ${n} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    bad(source, `the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    bad(source, 'the header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Array<[string, SafetensorsDtype, number[], number, number]> = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        bad(source, '__metadata__ is not an object');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') bad(source, `__metadata__.${k} is not a string`);
        ownKey(metadata, k, v);
      }
      continue;
    }
    if (typeof value !== 'object' || value === null) bad(source, `entry '${name}' is not an object`);
    const { dtype, shape, data_offsets: offs } = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    // Own keys only: `in` would also accept inherited names ('toString', '__proto__', …) as dtypes.
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_SIZE, dtype))
      bad(
        source,
        `tensor '${name}' has unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`,
      );
    if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0))
      bad(source, `tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      offs.some((o) => typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0)
    ) {
      bad(source, `tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end || end > dataLen)
      bad(source, `tensor '${name}' has data_offsets [${begin}, ${end}] outside the ${dataLen} data bytes`);
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const size = DTYPE_SIZE[dtype as SafetensorsDtype];
    if (!Number.isSafeInteger(count * size) || count * size !== end - begin) {
      bad(
        source,
        `tensor '${name}': shape ${JSON.stringify(shape)} × ${size} bytes (${dtype}) does not match its ${end - begin} bytes`,
      );
    }
    entries.push([name, dtype as SafetensorsDtype, shape as number[], begin, end]);
  }
  // Offsets must tile the data region exactly: in order, no gap, no overlap.
  const sorted = [...entries].sort((a, b) => a[3] - b[3] || a[4] - b[4]);
  let cursor = 0;
  for (const [name, , , begin, end] of sorted) {
    if (begin !== cursor) bad(source, `tensor '${name}' starts at byte ${begin}, expected ${cursor} (gap or overlap)`);
    cursor = end;
  }
  if (cursor !== dataLen)
    bad(source, `the tensors cover ${cursor} bytes but the data region has ${dataLen} (trailing bytes)`);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, dtype, shape, begin, end] of entries) {
    // Read through a DataView (the data region need not be aligned for typed-array views). A Node
    // Buffer's slice() is a view into a shared pool, so offsets are taken from the view itself.
    const raw = bytes.subarray(dataStart + begin, dataStart + end);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const count = shape.reduce((a, b) => a * b, 1);
    let data: SafeTensor['data'];
    if (dtype === 'F32') {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = dv.getFloat32(4 * i, true);
    } else if (dtype === 'F64') {
      data = new Float64Array(count);
      for (let i = 0; i < count; i++) data[i] = dv.getFloat64(8 * i, true);
    } else if (dtype === 'I32') {
      data = new Int32Array(count);
      for (let i = 0; i < count; i++) data[i] = dv.getInt32(4 * i, true);
    } else if (dtype === 'I64') {
      data = new BigInt64Array(count);
      for (let i = 0; i < count; i++) data[i] = dv.getBigInt64(8 * i, true);
    } else if (dtype === 'U8') {
      data = new Uint8Array(raw); // a copy: never alias the caller's buffer
    } else {
      const f = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const h = dv.getUint16(2 * i, true);
        f[i] = dtype === 'F16' ? f16ToF32(h) : (new Float32Array(new Uint32Array([h << 16]).buffer)[0] as number);
      }
      data = f;
    }
    tensors.set(name, { dtype, shape, data });
  }
  return { tensors, metadata };
}

function dtypeOf(name: string, data: SafeTensor['data'], dtype?: SafetensorsDtype): SafetensorsDtype {
  if (data instanceof Float32Array)
    return dtype === undefined || dtype === 'F32'
      ? 'F32'
      : bad('writer', `tensor '${name}': Float32Array written as ${dtype} is not supported`);
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof Uint8Array) return 'U8';
  throw new DeboraError(`safetensors: expected a typed array for tensor '${name}'`, 'DEBORA_INVALID_ARG');
}

/** Serialises tensors (written in name order) and metadata. */
export function encodeSafetensors(
  tensors:
    | ReadonlyMap<string, { shape: readonly number[]; data: SafeTensor['data'] }>
    | Record<string, { shape: readonly number[]; data: SafeTensor['data'] }>,
  metadata: Record<string, string> = {},
): Uint8Array {
  type Entry = [string, { shape: readonly number[]; data: SafeTensor['data'] }];
  const list: Entry[] = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new DeboraError(
          `safetensors: expected a string for metadata '${k}', received ${typeof v}`,
          'DEBORA_INVALID_ARG',
        );
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const parts: Array<[SafeTensor['data'], number]> = [];
  for (const [name, t] of list) {
    if (name === '__metadata__')
      throw new DeboraError("safetensors: '__metadata__' is reserved and cannot name a tensor", 'DEBORA_INVALID_ARG');
    const dtype = dtypeOf(name, t.data);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.shape.some((d) => !Number.isSafeInteger(d) || d < 0) || count !== t.data.length) {
      throw new DeboraError(
        `safetensors: tensor '${name}' has shape [${t.shape.join(', ')}] but ${t.data.length} elements`,
        'DEBORA_SHAPE_MISMATCH',
      );
    }
    const bytes = count * DTYPE_SIZE[dtype];
    ownKey(header, name, { dtype, shape: t.shape.slice(), data_offsets: [offset, offset + bytes] });
    parts.push([t.data, offset]);
    offset += bytes;
  }
  // Pad the header with spaces to a multiple of 8 so the data starts aligned (as the reference writer does).
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  while ((8 + enc.encode(json).length) % 8 !== 0) json += ' ';
  const hbytes = enc.encode(json);
  const out = new Uint8Array(8 + hbytes.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  const base = 8 + hbytes.length;
  for (const [data, off] of parts) {
    const p = base + off;
    if (data instanceof Float32Array)
      for (let i = 0; i < data.length; i++) dv.setFloat32(p + 4 * i, data[i] as number, true);
    else if (data instanceof Float64Array)
      for (let i = 0; i < data.length; i++) dv.setFloat64(p + 8 * i, data[i] as number, true);
    else if (data instanceof Int32Array)
      for (let i = 0; i < data.length; i++) dv.setInt32(p + 4 * i, data[i] as number, true);
    else if (data instanceof BigInt64Array)
      for (let i = 0; i < data.length; i++) dv.setBigInt64(p + 8 * i, data[i] as bigint, true);
    else out.set(data, p);
  }
  return out;
}

/** Reads and validates a safetensors file. */
export function readSafetensors(file: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new DeboraError(`safetensors: cannot read ${file}: ${(e as Error).message}`, 'DEBORA_INVALID_ARG');
  }
  return decodeSafetensors(bytes, file);
}

/** Writes a safetensors file atomically: a crash mid-write never leaves a partial file at `file`. */
export function writeSafetensors(
  file: string,
  tensors: Parameters<typeof encodeSafetensors>[0],
  metadata: Record<string, string> = {},
): void {
  const bytes = encodeSafetensors(tensors, metadata);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {}
    throw new DeboraError(`safetensors: cannot write ${file}: ${(e as Error).message}`, 'DEBORA_INVALID_ARG');
  }
}
