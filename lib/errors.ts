/**
 * errors.ts — the one error class of debora and its stable codes. Native failures arrive with
 * the same class (the addon is given this constructor at load). Tested in
 * test/unit/validate.test.ts and test/native/errors.test.ts.
 */

/** Stable error codes. The native ones mirror `debora_status` in native/include/debora/debora.h. */
export type DeboraErrorCode =
  | 'DEBORA_INVALID_ARG'
  | 'DEBORA_SHAPE_MISMATCH'
  | 'DEBORA_NON_FINITE'
  | 'DEBORA_OUT_OF_MEMORY'
  | 'DEBORA_BACKEND_UNAVAILABLE'
  | 'DEBORA_CUDA_ERROR'
  | 'DEBORA_NOT_IMPLEMENTED'
  | 'DEBORA_INTERNAL'
  | 'DEBORA_ADDON_LOAD_FAILED'
  | 'DEBORA_INVALID_CONFIG';

/** Codes the native library can return (everything except those raised only in TypeScript). */
export const NATIVE_ERROR_CODES: readonly DeboraErrorCode[] = [
  'DEBORA_INVALID_ARG',
  'DEBORA_SHAPE_MISMATCH',
  'DEBORA_NON_FINITE',
  'DEBORA_OUT_OF_MEMORY',
  'DEBORA_BACKEND_UNAVAILABLE',
  'DEBORA_CUDA_ERROR',
  'DEBORA_NOT_IMPLEMENTED',
  'DEBORA_INTERNAL',
];

/**
 * Every error debora throws on purpose. `code` is stable across versions; match on it rather
 * than on the message. Errors thrown by the native addon are instances of this class too.
 */
export class DeboraError extends Error {
  readonly code: DeboraErrorCode;
  constructor(message: string, code: DeboraErrorCode) {
    super(message);
    this.name = 'DeboraError';
    this.code = code;
  }
}

/** True for any error raised by debora (TypeScript or native), even across realms (jest). */
export function isDeboraError(e: unknown): e is DeboraError {
  return (
    e instanceof DeboraError ||
    (typeof e === 'object' &&
      e !== null &&
      (e as { name?: unknown }).name === 'DeboraError' &&
      typeof (e as { code?: unknown }).code === 'string')
  );
}

/** Throws a "not implemented" error naming the feature (never a silent stub). */
export function notImplemented(feature: string): never {
  throw new DeboraError(`${feature} is not implemented yet`, 'DEBORA_NOT_IMPLEMENTED');
}
