/**
 * safetensors.test.ts — the safetensors reader/writer: round trips of every supported dtype,
 * a hand-built file in the reference layout, and malformed input (every truncation of a small
 * file, corrupted headers, overlapping / gapped / out-of-range offsets, bad dtypes and shapes):
 * each must give a DeboraError naming the problem, never a crash or a wrong read.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors } from '../../lib/io/safetensors';

function fileWithHeader(header: object, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function expectInvalid(bytes: Uint8Array, text: RegExp): void {
  let err: unknown;
  try {
    decodeSafetensors(bytes, 'case');
  } catch (e) {
    err = e;
  }
  expect((err as { name?: string })?.name).toBe('DeboraError');
  expect((err as Error).message).toMatch(/^safetensors: case is not a valid safetensors file: /);
  expect((err as Error).message).toMatch(text);
}

describe('safetensors', () => {
  const sample = () =>
    new Map<string, { shape: number[]; data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array }>([
      ['w', { shape: [2, 3], data: Float32Array.from([1.5, -2, 3.25, 1e-30, -0, 7]) }],
      ['d', { shape: [3], data: Float64Array.from([Math.PI, -1e300, 2 ** -1070]) }],
      ['i', { shape: [2, 2], data: Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 0, 5]) }],
      ['l', { shape: [1], data: BigInt64Array.from([-(2n ** 62n)]) }],
      ['b', { shape: [4], data: Uint8Array.from([0, 255, 7, 128]) }],
      ['empty', { shape: [0, 4], data: new Float32Array(0) }],
    ]);

  test('round trip of every dtype, shapes, metadata; header padded so data starts 8-aligned', () => {
    const bytes = encodeSafetensors(sample(), { format: 'pt', 'debora.config': '{"r":8}' });
    const hlen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + hlen) % 8).toBe(0);
    const f = decodeSafetensors(bytes);
    expect(f.metadata).toEqual({ format: 'pt', 'debora.config': '{"r":8}' });
    for (const [name, t] of sample()) {
      const got = f.tensors.get(name);
      expect(got?.shape).toEqual(t.shape);
      expect(Array.from(got?.data as ArrayLike<unknown>)).toEqual(Array.from(t.data as ArrayLike<unknown>));
    }
    const w = f.tensors.get('w');
    expect(w).toBeDefined();
    expect(Object.is((w as { data: Float32Array }).data[4], -0)).toBe(true);
  });

  test('reads a hand-built file in the reference layout, including F16 and BF16', () => {
    const data = new Uint8Array(4 + 4 + 8);
    const dv = new DataView(data.buffer);
    dv.setUint16(0, 0x3c00, true); // f16 1.0
    dv.setUint16(2, 0xc000, true); // f16 −2.0
    dv.setUint16(4, 0x3f80, true); // bf16 1.0
    dv.setUint16(6, 0x4049, true); // bf16 3.140625
    dv.setFloat32(8, 0.5, true);
    dv.setFloat32(12, -4, true);
    const bytes = fileWithHeader(
      {
        h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
        b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] },
        f: { dtype: 'F32', shape: [1, 2], data_offsets: [8, 16] },
      },
      data,
    );
    const t = decodeSafetensors(bytes).tensors;
    expect(Array.from(t.get('h')?.data as Float32Array)).toEqual([1, -2]);
    expect(Array.from(t.get('b')?.data as Float32Array)).toEqual([1, 3.140625]);
    expect(Array.from(t.get('f')?.data as Float32Array)).toEqual([0.5, -4]);
  });

  test('every truncation of a valid file is refused with a clear error', () => {
    const bytes = encodeSafetensors(sample(), { k: 'v' });
    for (let len = 0; len < bytes.length; len++) {
      expect(() => decodeSafetensors(bytes.subarray(0, len), 'cut')).toThrow(
        /^safetensors: cut is not a valid safetensors file: /,
      );
    }
  });

  test('corrupted headers, offsets, dtypes and shapes are refused and named', () => {
    const d8 = new Uint8Array(8);
    expectInvalid(new Uint8Array(3), /shorter than the 8-byte header length/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
    expectInvalid(huge, /exceeds the/);
    const notJson = fileWithHeader({}, d8);
    notJson[8] = 0x7b + 1; // '|' instead of '{'
    expectInvalid(notJson, /not valid UTF-8 JSON/);
    expectInvalid(fileWithHeader([] as unknown as object, d8), /not a JSON object/);
    expectInvalid(
      fileWithHeader({ a: { dtype: 'Q8', shape: [2], data_offsets: [0, 8] } }, d8),
      /unsupported dtype "Q8"/,
    );
    expectInvalid(fileWithHeader({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, d8), /invalid shape/);
    expectInvalid(
      fileWithHeader({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, d8),
      /does not match its 8 bytes/,
    );
    expectInvalid(
      fileWithHeader({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, d8),
      /outside the 8 data bytes/,
    );
    expectInvalid(fileWithHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, d8), /outside/);
    expectInvalid(
      fileWithHeader(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
        },
        d8,
      ),
      /'b' starts at byte 4, expected 8 \(gap or overlap\)|'a' starts at byte 0/,
    );
    expectInvalid(
      fileWithHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, d8),
      /starts at byte 4, expected 0/,
    );
    expectInvalid(fileWithHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, d8), /trailing bytes/);
    expectInvalid(fileWithHeader({ __metadata__: { a: 1 } }, new Uint8Array(0)), /__metadata__\.a is not a string/);
  });

  test('random byte corruption of the header never crashes: either a valid parse or a DeboraError', () => {
    const good = encodeSafetensors(sample());
    let seed = 12345;
    const next = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed;
    };
    const hlen = Number(new DataView(good.buffer).getBigUint64(0, true));
    let refused = 0;
    for (let trial = 0; trial < 2000; trial++) {
      const b = Uint8Array.from(good);
      const flips = 1 + (next() % 3);
      for (let k = 0; k < flips; k++) b[next() % (8 + hlen)] = next() & 0xff;
      try {
        const f = decodeSafetensors(b, 'fuzz');
        for (const t of f.tensors.values()) expect(t.data.length).toBe(t.shape.reduce((a, c) => a * c, 1));
      } catch (e) {
        expect((e as { name?: string }).name).toBe('DeboraError');
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(1000);
  });

  test('files are written atomically and read back; unreadable paths are named', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'debora-st-'));
    const file = path.join(dir, 'a.safetensors');
    writeSafetensors(file, sample());
    expect(fs.readdirSync(dir)).toEqual(['a.safetensors']);
    // Read back from disk (a Node Buffer from a shared pool): every value must match.
    const back = readSafetensors(file).tensors;
    expect(back.size).toBe(6);
    for (const [name, t] of sample())
      expect(Array.from(back.get(name)?.data as ArrayLike<unknown>)).toEqual(Array.from(t.data as ArrayLike<unknown>));
    // Also from a Buffer that is a view at a non-zero offset of a larger ArrayBuffer.
    const padded = Buffer.alloc(fs.statSync(file).size + 13);
    fs.readFileSync(file).copy(padded, 13);
    const viaView = decodeSafetensors(padded.subarray(13), 'view').tensors;
    for (const [name, t] of sample())
      expect(Array.from(viaView.get(name)?.data as ArrayLike<unknown>)).toEqual(
        Array.from(t.data as ArrayLike<unknown>),
      );
    expect(() => readSafetensors(path.join(dir, 'missing.safetensors'))).toThrow(/cannot read .*missing\.safetensors/);
    expect(() => writeSafetensors(path.join(dir, 'no', 'such', 'dir.safetensors'), sample())).toThrow(/cannot write/);
    expect(fs.readdirSync(dir)).toEqual(['a.safetensors']);
    fs.rmSync(dir, { recursive: true });
  });
});
