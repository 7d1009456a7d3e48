/**
 * safetensors-fuzz.test.ts — property-based tests (fast-check, fixed seeds) of the safetensors reader
 * and writer in lib/io/safetensors.ts: random valid files round-trip (names such as '__proto__'
 * included); every truncation of them is refused; random byte flips in the length prefix and header,
 * random structured edits of the header JSON (dtypes, shapes, offsets, overlapping or out-of-range
 * ranges, entries and metadata) and huge header lengths give either a DeboraError with the reader's
 * message, or — exactly when an independent reference validator accepts the header — a decode whose
 * values equal the raw bytes. Never a RangeError, a crash or an out-of-bounds read.
 */
import fc from 'fast-check';
import { isDeboraError } from '../../lib/errors';
import { decodeSafetensors, encodeSafetensors, type SafeTensor, type SafetensorsFile } from '../../lib/io/safetensors';

type Data = SafeTensor['data'];
const WRITABLE = ['F32', 'F64', 'I32', 'I64', 'U8'] as const;
type Writable = (typeof WRITABLE)[number];
const SIZE: Record<string, number> = { F32: 4, F64: 8, I32: 4, I64: 8, U8: 1, F16: 2, BF16: 2 };
const SEED = 20250609;

/** A typed array of `dtype` over a copy of `bytes` (native little-endian on every machine we run on). */
function typed(dtype: string, bytes: Uint8Array): Data {
  const copy = Uint8Array.from(bytes).buffer;
  if (dtype === 'F32') return new Float32Array(copy);
  if (dtype === 'F64') return new Float64Array(copy);
  if (dtype === 'I32') return new Int32Array(copy);
  if (dtype === 'I64') return new BigInt64Array(copy);
  return new Uint8Array(copy);
}

// Names that break naive object handling ('__proto__' as a key of a plain object, inherited
// properties like 'toString') are drawn often on purpose.
const nameArb = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'a.b', '') },
);

interface Spec {
  name: string;
  dtype: Writable;
  shape: number[];
  bytes: Uint8Array;
}

const specArb: fc.Arbitrary<Spec> = fc
  .record({
    name: nameArb,
    dtype: fc.constantFrom(...WRITABLE),
    shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
  })
  .chain((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1) * (SIZE[s.dtype] as number);
    return fc.uint8Array({ minLength: n, maxLength: n }).map((bytes) => ({ ...s, bytes }));
  });

const metaArb = fc.dictionary(
  fc.oneof(fc.string({ maxLength: 5 }), fc.constantFrom('__proto__', 'format')),
  fc.string({ maxLength: 5 }),
  {
    maxKeys: 3,
  },
);

const fileArb = fc.record({
  specs: fc.uniqueArray(specArb, {
    selector: (s) => s.name,
    maxLength: 4,
    // '__metadata__' is reserved for the metadata: the writer refuses it as a tensor name.
    comparator: 'SameValue',
  }),
  meta: metaArb,
});

function encodeSpecs(specs: Spec[], meta: Record<string, string>): Uint8Array {
  const m = new Map<string, { shape: number[]; data: Data }>();
  for (const s of specs) m.set(s.name, { shape: s.shape, data: typed(s.dtype, s.bytes) });
  return encodeSafetensors(m, { ...meta });
}

/** The decoded file, or null after checking the error is the reader's DeboraError (anything else fails). */
function decodeOrRefuse(bytes: Uint8Array): SafetensorsFile | null {
  try {
    return decodeSafetensors(bytes, 'fuzz');
  } catch (e) {
    if (!isDeboraError(e)) throw e; // a RangeError, TypeError, … is a bug: let it fail the property
    if (e.code !== 'DEBORA_INVALID_ARG' || !/^safetensors: fuzz is not a valid safetensors file: \S/.test(e.message))
      throw new Error(`unexpected error shape: ${e.code} ${e.message}`);
    // A clear message never dumps a function's source or an object's default string.
    if (/function|\[object /.test(e.message)) throw new Error(`unclear message: ${e.message}`);
    return null;
  }
}

function sameValues(a: ArrayLike<unknown>, b: ArrayLike<unknown>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** The header length, header object and data region of an encoded file. */
function split(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return {
    header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>,
    data: bytes.subarray(8 + n),
  };
}

function assemble(headerJson: string, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(headerJson);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/**
 * Checks a successful decode against the header it came from, read independently: every entry is a
 * tensor with that dtype and shape, and its values are the raw bytes at its offsets (typed-array views
 * on a copy, not the reader's DataView path). F16/BF16 values are checked by count only.
 */
function checkAgainstHeader(f: SafetensorsFile, header: Record<string, unknown>, data: Uint8Array): void {
  const entries = Object.entries(header).filter(([k]) => k !== '__metadata__');
  if (f.tensors.size !== entries.length) throw new Error(`${f.tensors.size} tensors for ${entries.length} entries`);
  for (const [name, v] of entries) {
    const e = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const t = f.tensors.get(name);
    if (t === undefined) throw new Error(`tensor '${name}' missing`);
    if (t.dtype !== e.dtype || !sameValues(t.shape, e.shape)) throw new Error(`tensor '${name}': dtype/shape differ`);
    const raw = data.subarray(e.data_offsets[0], e.data_offsets[1]);
    if (e.dtype === 'F16' || e.dtype === 'BF16') {
      if (t.data.length * 2 !== raw.length) throw new Error(`tensor '${name}': wrong element count`);
    } else if (!sameValues(t.data as ArrayLike<unknown>, typed(e.dtype, raw) as ArrayLike<unknown>)) {
      throw new Error(`tensor '${name}': values differ from the raw bytes`);
    }
  }
  const meta = (header.__metadata__ ?? {}) as Record<string, string>;
  if (JSON.stringify(Object.entries(f.metadata)) !== JSON.stringify(Object.entries(meta)))
    throw new Error('metadata differs');
}

/** A decoded file written again and read back gives the same tensors (F16/BF16 come back as F32). */
function checkRoundTrip(f: SafetensorsFile): void {
  const again = decodeSafetensors(encodeSafetensors(f.tensors, f.metadata), 'again');
  if (again.tensors.size !== f.tensors.size) throw new Error('round trip lost tensors');
  for (const [name, t] of f.tensors) {
    const b = again.tensors.get(name);
    if (
      b === undefined ||
      !sameValues(b.shape, t.shape) ||
      !sameValues(b.data as ArrayLike<unknown>, t.data as ArrayLike<unknown>)
    )
      throw new Error(`round trip changed tensor '${name}'`);
  }
  if (JSON.stringify(Object.entries(again.metadata)) !== JSON.stringify(Object.entries(f.metadata)))
    throw new Error('round trip changed the metadata');
}

const isSafeNat = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * The format's validity rules, written independently of the reader: a JSON object; '__metadata__' an
 * object of strings; every other entry an object with a known dtype, a shape of safe non-negative
 * integers and two safe non-negative offsets begin ≤ end ≤ data length with prod(shape)·size = end − begin;
 * the ranges, sorted, tile [0, data length) exactly.
 */
function referenceValid(header: unknown, dataLen: number): boolean {
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return false;
  const ranges: Array<[number, number]> = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
      if (!Object.values(v).every((x) => typeof x === 'string')) return false;
      continue;
    }
    if (typeof v !== 'object' || v === null) return false;
    const { dtype, shape, data_offsets: offs } = v as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(SIZE, dtype)) return false;
    if (!Array.isArray(shape) || !shape.every(isSafeNat)) return false;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isSafeNat)) return false;
    const [b, e] = offs as [number, number];
    if (b > e || e > dataLen) return false;
    let bytes = BigInt(SIZE[dtype] as number);
    for (const d of shape as number[]) bytes *= BigInt(d);
    if (bytes !== BigInt(e - b)) return false;
    ranges.push([b, e]);
  }
  ranges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let at = 0;
  for (const [b, e] of ranges) {
    if (b !== at) return false;
    at = e;
  }
  return at === dataLen;
}

describe('safetensors fuzzing', () => {
  test('random valid files round-trip exactly (odd names and metadata keys included)', () => {
    fc.assert(
      fc.property(fileArb, ({ specs, meta }) => {
        const bytes = encodeSpecs(specs, meta);
        const f = decodeOrRefuse(bytes);
        if (f === null) throw new Error('a file the writer produced was refused');
        const { header, data } = split(bytes);
        checkAgainstHeader(f, header, data);
        if (f.tensors.size !== specs.length) throw new Error('tensor count');
        for (const s of specs) {
          const t = f.tensors.get(s.name) as SafeTensor;
          if (!sameValues(t.data as ArrayLike<unknown>, typed(s.dtype, s.bytes) as ArrayLike<unknown>))
            throw new Error(`tensor '${s.name}' changed`);
        }
        if (JSON.stringify(Object.entries(f.metadata).sort()) !== JSON.stringify(Object.entries(meta).sort()))
          throw new Error(`metadata changed: ${JSON.stringify(Object.entries(f.metadata))}`);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  test('every byte-position truncation of small valid files is a DeboraError', () => {
    // A fixed file with every writable dtype, an empty tensor and metadata, then random ones.
    const fixed = encodeSafetensors(
      new Map<string, { shape: number[]; data: Data }>([
        ['w', { shape: [2, 2], data: Float32Array.from([1.5, -2, 0.25, 8]) }],
        ['d', { shape: [1], data: Float64Array.from([Math.E]) }],
        ['i', { shape: [2], data: Int32Array.from([-7, 9]) }],
        ['l', { shape: [1], data: BigInt64Array.from([-3n]) }],
        ['b', { shape: [3], data: Uint8Array.from([1, 2, 250]) }],
        ['e', { shape: [0, 3], data: new Float32Array(0) }],
      ]),
      { format: 'pt' },
    );
    const files = [fixed, ...fc.sample(fileArb, { seed: SEED, numRuns: 40 }).map((f) => encodeSpecs(f.specs, f.meta))];
    let cuts = 0;
    for (const bytes of files) {
      for (let len = 0; len < bytes.length; len++) {
        if (decodeOrRefuse(bytes.subarray(0, len)) !== null) throw new Error(`a ${len}-byte truncation was accepted`);
        cuts++;
      }
    }
    expect(cuts).toBeGreaterThan(files.length * 50);
  });

  test('random byte flips in the length prefix and header: a DeboraError, or a decode that matches its bytes', () => {
    let refused = 0;
    let accepted = 0;
    fc.assert(
      fc.property(
        fileArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        ({ specs, meta }, flips) => {
          const bytes = encodeSpecs(specs, meta);
          const hlen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
          for (const [pos, val] of flips) bytes[pos % (8 + hlen)] = val;
          const f = decodeOrRefuse(bytes);
          if (f === null) {
            refused++;
            return;
          }
          accepted++;
          const { header, data } = split(bytes);
          checkAgainstHeader(f, header, data);
          checkRoundTrip(f);
        },
      ),
      { seed: SEED + 1, numRuns: 1500 },
    );
    // Able to fail both ways: most flips break the file, some (inside names, metadata strings,
    // padding spaces) leave a valid one.
    expect(refused).toBeGreaterThan(500);
    expect(accepted).toBeGreaterThan(10);
  });

  type Edit =
    | { kind: 'dtype'; at: number; value: unknown }
    | { kind: 'shape'; at: number; value: unknown }
    | { kind: 'offsets'; at: number; value: unknown }
    | { kind: 'shift'; at: number; by: number }
    | { kind: 'swap'; at: number; with: number }
    | { kind: 'drop-field'; at: number; field: 'dtype' | 'shape' | 'data_offsets' }
    | { kind: 'drop-entry'; at: number }
    | { kind: 'copy-entry'; at: number; name: string }
    | { kind: 'replace-entry'; at: number; value: unknown }
    | { kind: 'metadata'; value: unknown }
    | { kind: 'data-length'; by: number };

  const smallInt = fc.integer({ min: -3, max: 80 });
  const weirdNumber = fc.oneof(
    smallInt,
    fc.constantFrom(2 ** 31, 2 ** 32 + 4, 2 ** 53, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, 1e300, -0, 0.5, 3.000001),
  );
  const jsonish = fc.oneof(fc.jsonValue({ maxDepth: 2 }), weirdNumber, fc.array(weirdNumber, { maxLength: 4 }));
  const editArb: fc.Arbitrary<Edit> = fc.oneof(
    fc.record({
      kind: fc.constant('dtype' as const),
      at: fc.nat(),
      value: fc.oneof(
        fc.constantFrom('F32', 'F64', 'I32', 'I64', 'U8', 'F16', 'BF16', 'BOOL', 'F8_E4M3', 'f32', ''),
        fc.constantFrom('toString', '__proto__', 'constructor', 'valueOf', 'hasOwnProperty'),
        jsonish,
      ),
    }),
    fc.record({
      kind: fc.constant('shape' as const),
      at: fc.nat(),
      value: fc.oneof(
        fc.array(fc.integer({ min: -1, max: 6 }), { maxLength: 4 }),
        fc.array(weirdNumber, { maxLength: 3 }),
        fc.constantFrom([2 ** 31, 2 ** 31], [2 ** 26, 2 ** 26, 2 ** 26], [0, 2 ** 60], ['2'], null, 4),
        jsonish,
      ),
    }),
    fc.record({
      kind: fc.constant('offsets' as const),
      at: fc.nat(),
      value: fc.oneof(fc.tuple(weirdNumber, weirdNumber), fc.array(weirdNumber, { maxLength: 3 }), jsonish),
    }),
    fc.record({ kind: fc.constant('shift' as const), at: fc.nat(), by: fc.integer({ min: -9, max: 9 }) }),
    fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
    fc.record({
      kind: fc.constant('drop-field' as const),
      at: fc.nat(),
      field: fc.constantFrom('dtype' as const, 'shape' as const, 'data_offsets' as const),
    }),
    fc.record({ kind: fc.constant('drop-entry' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('copy-entry' as const), at: fc.nat(), name: nameArb }),
    fc.record({ kind: fc.constant('replace-entry' as const), at: fc.nat(), value: jsonish }),
    fc.record({
      kind: fc.constant('metadata' as const),
      value: fc.oneof(fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 })), jsonish),
    }),
    fc.record({ kind: fc.constant('data-length' as const), by: fc.integer({ min: -5, max: 5 }) }),
  );

  /** Applies the edits to a parsed header (defining keys, so '__proto__' stays an ordinary key). */
  function applyEdits(header: Record<string, unknown>, data: Uint8Array, edits: Edit[]): Uint8Array {
    const set = (k: string, v: unknown) =>
      Object.defineProperty(header, k, { value: v, enumerable: true, writable: true, configurable: true });
    let out = data;
    for (const ed of edits) {
      const names = Object.keys(header).filter((k) => k !== '__metadata__');
      const pick = (i: number) => names[i % Math.max(names.length, 1)];
      const entry = (i: number) => {
        const n = pick(i);
        const e = n === undefined ? undefined : header[n];
        return typeof e === 'object' && e !== null && !Array.isArray(e) ? (e as Record<string, unknown>) : undefined;
      };
      if (ed.kind === 'metadata') set('__metadata__', ed.value);
      else if (ed.kind === 'data-length') {
        const len = Math.max(0, out.length + ed.by);
        const next = new Uint8Array(len);
        next.set(out.subarray(0, Math.min(len, out.length)));
        out = next;
      } else if (ed.kind === 'drop-entry') {
        const n = pick(ed.at);
        if (n !== undefined) delete header[n];
      } else if (ed.kind === 'copy-entry') {
        const e = entry(ed.at);
        if (e !== undefined && ed.name !== '__metadata__') set(ed.name, JSON.parse(JSON.stringify(e)));
      } else if (ed.kind === 'replace-entry') {
        const n = pick(ed.at);
        if (n !== undefined) set(n, ed.value);
      } else if (ed.kind === 'swap') {
        const a = entry(ed.at);
        const b = entry(ed.with);
        if (a !== undefined && b !== undefined) [a.data_offsets, b.data_offsets] = [b.data_offsets, a.data_offsets];
      } else {
        const e = entry(ed.at);
        if (e === undefined) continue;
        if (ed.kind === 'dtype') e.dtype = ed.value;
        else if (ed.kind === 'shape') e.shape = ed.value;
        else if (ed.kind === 'offsets') e.data_offsets = ed.value;
        else if (ed.kind === 'drop-field') delete e[ed.field];
        else if (ed.kind === 'shift' && Array.isArray(e.data_offsets))
          e.data_offsets = (e.data_offsets as unknown[]).map((o) => (typeof o === 'number' ? o + ed.by : o));
      }
    }
    return out;
  }

  test('random edits of the header JSON: accepted exactly when the reference validator accepts, then values match', () => {
    let refused = 0;
    let accepted = 0;
    fc.assert(
      fc.property(fileArb, fc.array(editArb, { minLength: 1, maxLength: 3 }), ({ specs, meta }, edits) => {
        const { header, data: data0 } = split(encodeSpecs(specs, meta));
        const data = applyEdits(header, data0, edits);
        const json = JSON.stringify(header);
        const bytes = assemble(json, data);
        const reparsed = JSON.parse(json) as unknown; // what the reader sees (NaN → null, -0 → 0, …)
        const f = decodeOrRefuse(bytes);
        const valid = referenceValid(reparsed, data.length);
        if ((f !== null) !== valid)
          throw new Error(
            `reader ${f === null ? 'refused' : 'accepted'} a header the reference ${valid ? 'accepts' : 'refuses'}: ${json}`,
          );
        if (f === null) {
          refused++;
          return;
        }
        accepted++;
        checkAgainstHeader(f, reparsed as Record<string, unknown>, data);
        checkRoundTrip(f);
      }),
      { seed: SEED + 2, numRuns: 2000 },
    );
    expect(refused).toBeGreaterThan(500);
    expect(accepted).toBeGreaterThan(50);
  });

  test('huge or inconsistent header lengths are refused without reading past the buffer', () => {
    fc.assert(
      fc.property(fileArb, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), ({ specs, meta }, hlen) => {
        const bytes = encodeSpecs(specs, meta);
        const real = new DataView(bytes.buffer).getBigUint64(0, true);
        new DataView(bytes.buffer).setBigUint64(0, hlen, true);
        const f = decodeOrRefuse(bytes);
        // Only the true length can parse: a shorter one cuts the JSON, a longer one swallows data
        // bytes into it (or runs past the end) — except when trailing padding spaces are cut.
        if (f !== null && (hlen > real || hlen < real - 7n))
          throw new Error(`header length ${hlen} accepted (real ${real})`);
      }),
      { seed: SEED + 3, numRuns: 500 },
    );
    const tiny = new Uint8Array(16);
    for (const h of [2n ** 64n - 1n, 2n ** 53n + 1n, 100n * 1024n * 1024n + 1n, 9n])
      expect(() => {
        new DataView(tiny.buffer).setBigUint64(0, h, true);
        decodeSafetensors(tiny, 'fuzz');
      }).toThrow(/^safetensors: fuzz is not a valid safetensors file: header length \d+ (exceeds|runs past)/);
  });
});
