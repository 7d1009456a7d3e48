/**
 * validate.ts — argument validation at the TypeScript boundary, with one message format:
 *   "<where>: expected <what> for argument '<name>', received <what was received>"
 * (the native library uses the same format for what only it can check). Each check throws a
 * DeboraError and returns the narrowed value. Tested in test/unit/validate.test.ts.
 */
import { DeboraError, type DeboraErrorCode } from './errors';

/** A short description of a received value, for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return value.length > 40 ? `a string of length ${value.length}` : `'${value}'`;
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'function') return 'a function';
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor.name;
    const len = (value as unknown as { length?: number }).length;
    return len === undefined ? `a ${name}` : `a ${name} of length ${len}`;
  }
  if (Array.isArray(value)) return `an Array of length ${value.length}`;
  const ctor = (value as object).constructor?.name;
  return ctor && ctor !== 'Object' ? `a ${ctor}` : 'an object';
}

/** Throws a DeboraError in the boundary message format. */
export function invalid(
  where: string,
  name: string,
  expected: string,
  received: string,
  code: DeboraErrorCode = 'DEBORA_INVALID_ARG',
): never {
  throw new DeboraError(`${where}: expected ${expected} for argument '${name}', received ${received}`, code);
}

/** An integer in [min, max]. */
export function int(where: string, name: string, value: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    invalid(where, name, `an integer ${range}`, describe(value));
  }
  return value;
}

/**
 * An integer or an [height, width] pair of integers in [min, max] (conv / pooling stride, padding,
 * dilation); `fallback` when undefined. Errors name `name` or `name[0]` / `name[1]`.
 */
export function intPair(
  where: string,
  name: string,
  value: unknown,
  fallback: [number, number],
  min: number,
  max: number,
): [number, number] {
  if (value === undefined) return fallback;
  if (typeof value === 'number') {
    const v = int(where, name, value, min, max);
    return [v, v];
  }
  if (!Array.isArray(value) || value.length !== 2) {
    invalid(where, name, 'an integer or an array [height, width]', describe(value));
  }
  return [int(where, `${name}[0]`, value[0], min, max), int(where, `${name}[1]`, value[1], min, max)];
}

/** A finite number, optionally bounded; `open` bounds exclude the endpoint. */
export function num(
  where: string,
  name: string,
  value: unknown,
  opts: { min?: number; max?: number; minOpen?: boolean; maxOpen?: boolean } = {},
): number {
  const { min = -Infinity, max = Infinity, minOpen = false, maxOpen = false } = opts;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (minOpen ? value > min : value >= min) &&
    (maxOpen ? value < max : value <= max);
  if (!ok) {
    const parts: string[] = [];
    if (min !== -Infinity) parts.push(`${minOpen ? '>' : '>='} ${min}`);
    if (max !== Infinity) parts.push(`${maxOpen ? '<' : '<='} ${max}`);
    const code: DeboraErrorCode =
      typeof value === 'number' && !Number.isFinite(value) ? 'DEBORA_NON_FINITE' : 'DEBORA_INVALID_ARG';
    invalid(where, name, `a finite number${parts.length ? ` ${parts.join(' and ')}` : ''}`, describe(value), code);
  }
  return value;
}

/** One of a fixed set of strings. */
export function oneOf<T extends string>(where: string, name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    invalid(where, name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, describe(value));
  }
  return value as T;
}

/** A Float32Array, of exactly `length` elements when given. */
export function f32(where: string, name: string, value: unknown, length?: number): Float32Array {
  if (!(value instanceof Float32Array))
    invalid(
      where,
      name,
      length === undefined ? 'a Float32Array' : `a Float32Array of length ${length}`,
      describe(value),
    );
  if (length !== undefined && value.length !== length) {
    invalid(where, name, `a Float32Array of length ${length}`, describe(value), 'DEBORA_SHAPE_MISMATCH');
  }
  return value;
}

/** Every element finite (first offender named by index). */
export function finite(where: string, name: string, x: ArrayLike<number>): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    if (!Number.isFinite(v)) invalid(where, name, 'finite values', `${describe(v)} at index ${i}`, 'DEBORA_NON_FINITE');
  }
}
