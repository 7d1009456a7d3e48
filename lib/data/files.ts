/**
 * files.ts — reading and writing data files for the loaders: gzip detected by its magic bytes (not
 * the file name), failures turned into DeboraErrors that name the file, writes made atomic.
 * Internal to lib/data; tested through test/unit/data-idx.test.ts and data-csv.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DeboraError } from '../errors';

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The contents of `file`, decompressed when they are gzip. */
export function readMaybeGzip(where: string, file: string): Buffer {
  if (typeof file !== 'string' || file.length === 0) {
    throw new DeboraError(
      `${where}: expected a file path for argument 'path', received ${String(file)}`,
      'DEBORA_INVALID_ARG',
    );
  }
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new DeboraError(`${where}: cannot read file '${file}' (${code})`, 'DEBORA_INVALID_ARG');
  }
  if (!isGzip(raw)) return raw;
  try {
    return gunzipSync(raw);
  } catch (e) {
    throw new DeboraError(
      `${where}: malformed file '${file}': gzip data cannot be decompressed (${(e as Error).message})`,
      'DEBORA_INVALID_ARG',
    );
  }
}

/** Writes `bytes` (gzipped when asked) through a temporary file and a rename, so no half file is left. */
export function writeAtomic(where: string, file: string, bytes: Uint8Array, gzip: boolean): void {
  const data = gzip ? gzipSync(bytes) : bytes;
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new DeboraError(
      `${where}: cannot write file '${file}' (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      'DEBORA_INVALID_ARG',
    );
  }
}
