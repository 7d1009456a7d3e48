/**
 * reference_linear.ts — float64 reference of op cp_linear (ALGORITHM.md section 1), written as
 * plainly as possible: the thing the native kernels are checked against. Also used with |inputs|
 * to get Σ|terms| per output, which bounds float32 rounding error.
 */

type Arr = ArrayLike<number>;

export interface LinearRef {
  Z: Float64Array; // N×r
  Y: Float64Array; // N×nOut (adapter term only)
}

export function linearForward(
  N: number,
  nIn: number,
  nOut: number,
  r: number,
  X: Arr,
  U: Arr,
  V: Arr,
  s: Arr,
): LinearRef {
  const Z = new Float64Array(N * r);
  const Y = new Float64Array(N * nOut);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < r; i++) {
      let z = 0;
      for (let k = 0; k < nIn; k++) z += (X[n * nIn + k] as number) * (V[k * r + i] as number);
      Z[n * r + i] = z;
    }
    for (let j = 0; j < nOut; j++) {
      let y = 0;
      for (let i = 0; i < r; i++) y += (Z[n * r + i] as number) * (s[i] as number) * (U[j * r + i] as number);
      Y[n * nOut + j] = y;
    }
  }
  return { Z, Y };
}

export interface LinearGrads {
  dX: Float64Array;
  dU: Float64Array;
  dV: Float64Array;
  ds: Float64Array;
}

export function linearBackward(
  N: number,
  nIn: number,
  nOut: number,
  r: number,
  X: Arr,
  U: Arr,
  V: Arr,
  s: Arr,
  dY: Arr,
): LinearGrads {
  const { Z } = linearForward(N, nIn, nOut, r, X, U, V, s);
  const T = new Float64Array(N * r);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < r; i++) {
      let t = 0;
      for (let j = 0; j < nOut; j++) t += (dY[n * nOut + j] as number) * (U[j * r + i] as number);
      T[n * r + i] = t;
    }
  const ds = new Float64Array(r);
  const dU = new Float64Array(nOut * r);
  const dV = new Float64Array(nIn * r);
  const dX = new Float64Array(N * nIn);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < r; i++) {
      const z = Z[n * r + i] as number;
      const t = T[n * r + i] as number;
      const si = s[i] as number;
      ds[i] = (ds[i] as number) + z * t;
      for (let j = 0; j < nOut; j++) dU[j * r + i] = (dU[j * r + i] as number) + (dY[n * nOut + j] as number) * z * si;
      for (let k = 0; k < nIn; k++) {
        dV[k * r + i] = (dV[k * r + i] as number) + (X[n * nIn + k] as number) * t * si;
        dX[n * nIn + k] = (dX[n * nIn + k] as number) + t * si * (V[k * r + i] as number);
      }
    }
  }
  return { dX, dU, dV, ds };
}

/** L = ⟨dY, Y(X, U, V, s)⟩: its gradient is exactly what linearBackward returns. */
export function linearLoss(
  N: number,
  nIn: number,
  nOut: number,
  r: number,
  X: Arr,
  U: Arr,
  V: Arr,
  s: Arr,
  dY: Arr,
): number {
  const { Y } = linearForward(N, nIn, nOut, r, X, U, V, s);
  let l = 0;
  for (let q = 0; q < Y.length; q++) l += (Y[q] as number) * (dY[q] as number);
  return l;
}
