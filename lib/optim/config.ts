/**
 * optim/config.ts — validation of optimiser and schedule settings as configuration data: every
 * error is a DEBORA_INVALID_CONFIG in the boundary message format, naming the field and the fix.
 * Tested through test/unit/optim-base.test.ts, optim-sgd.test.ts, optim-adam.test.ts and
 * optim-schedule.test.ts.
 */
import { DeboraError } from '../errors';
import { describe } from '../validate';

/** Throws DEBORA_INVALID_CONFIG: "<where>: expected … for argument '<field>', received …. Fix: …". */
export function optimConfigError(where: string, field: string, expected: string, received: string, fix: string): never {
  throw new DeboraError(
    `${where}: expected ${expected} for argument '${field}', received ${received}. Fix: ${fix}`,
    'DEBORA_INVALID_CONFIG',
  );
}

/** Rejects keys outside `allowed` (a typo such as `weight_decay` must not be silently ignored). */
export function checkKeys(where: string, prefix: string, obj: object, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      optimConfigError(
        where,
        prefix + k,
        'no such field',
        describe((obj as Record<string, unknown>)[k]),
        `remove it; the known fields are ${allowed.join(', ')}`,
      );
    }
  }
}

/** A finite number in the given range; `open` ends exclude the endpoint. */
export function configNumber(
  where: string,
  field: string,
  v: unknown,
  range: { min?: number; max?: number; minOpen?: boolean; maxOpen?: boolean },
  fix: string,
): number {
  const { min = -Infinity, max = Infinity, minOpen = false, maxOpen = false } = range;
  const ok =
    typeof v === 'number' && Number.isFinite(v) && (minOpen ? v > min : v >= min) && (maxOpen ? v < max : v <= max);
  if (!ok) {
    const parts: string[] = [];
    if (min !== -Infinity) parts.push(`${minOpen ? '>' : '>='} ${min}`);
    if (max !== Infinity) parts.push(`${maxOpen ? '<' : '<='} ${max}`);
    optimConfigError(where, field, `a finite number${parts.length ? ` ${parts.join(' and ')}` : ''}`, describe(v), fix);
  }
  return v as number;
}

/** An integer >= min. */
export function configInt(where: string, field: string, v: unknown, min: number, fix: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    optimConfigError(where, field, `an integer >= ${min}`, describe(v), fix);
  }
  return v;
}

/** A boolean. */
export function configBool(where: string, field: string, v: unknown, fix: string): boolean {
  if (typeof v !== 'boolean') optimConfigError(where, field, 'true or false', describe(v), fix);
  return v;
}
