/**
 * common.ts — conventions shared by the op wrappers in lib/ops/ (one file per native op, named as
 * in native/README.md). Shapes and types are validated in the wrapper, once; values the kernel
 * must scan anyway (finite, s > 0) are checked natively before any output is written.
 */
import type { BackendName } from '../backend';

/** Options every op accepts. */
export interface OpOptions {
  /** Backend for this call (default: the one set by setBackend / $DEBORA_BACKEND). */
  backend?: BackendName;
}

/** Factor geometry of an adapter (ALGORITHM.md section 2). */
export type Geometry = 'euclidean' | 'oblique' | 'stiefel';
export const GEOMETRIES: readonly Geometry[] = ['euclidean', 'oblique', 'stiefel'];
/** The code the native library uses for each geometry (debora_geometry). */
export const GEOMETRY_CODE: Readonly<Record<Geometry, number>> = { euclidean: 0, oblique: 1, stiefel: 2 };
