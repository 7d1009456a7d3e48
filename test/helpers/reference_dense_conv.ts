/**
 * reference_dense_conv.ts — float64 references of op conv2d (the dense convolution of a frozen base
 * layer, NCHW), written as the textbook loops: the forward with bias, and its exact adjoints dX,
 * dK, dbias for the loss L = ⟨dY, Y⟩. Called on |inputs| they give the per-element term bounds the
 * tolerances use. Used by test/native/conv2d.test.ts.
 */
import { type RefGeom, refOutSize } from './reference_conv2d';

export { type RefGeom, refOutSize };

// Looked up once: under jest a global lookup in a hot loop goes through the test context's global
// object (tens of times slower).
const { floor } = Math;

/** Calls fn(xIndex, yIndex, kIndex) for every (output pixel, kernel tap) whose input is inside the image. */
function forEachTap(g: RefGeom, fn: (xi: number, yi: number, ki: number) => void): void {
  const { Ho, Wo } = refOutSize(g);
  for (let n = 0; n < g.batch; n++)
    for (let f = 0; f < g.F; f++)
      for (let oh = 0; oh < Ho; oh++)
        for (let ow = 0; ow < Wo; ow++) {
          const yi = ((n * g.F + f) * Ho + oh) * Wo + ow;
          for (let c = 0; c < g.C; c++)
            for (let a = 0; a < g.kh; a++) {
              const ih = oh * g.sh - g.ph + a * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              for (let b = 0; b < g.kw; b++) {
                const iw = ow * g.sw - g.pw + b * g.dw;
                if (iw < 0 || iw >= g.W) continue;
                fn(((n * g.C + c) * g.H + ih) * g.W + iw, yi, ((f * g.C + c) * g.kh + a) * g.kw + b);
              }
            }
        }
}

/** Y[n,f,oh,ow] = bias[f] + Σ_{c,a,b} K[f,c,a,b]·X[n,c,oh·sh−ph+a·dh, ow·sw−pw+b·dw] (zero padding). */
export function convForward(
  g: RefGeom,
  X: ArrayLike<number>,
  K: ArrayLike<number>,
  bias: ArrayLike<number> | null,
): Float64Array {
  const { Ho, Wo } = refOutSize(g);
  const Y = new Float64Array(g.batch * g.F * Ho * Wo);
  if (bias !== null) {
    for (let i = 0; i < Y.length; i++) Y[i] = bias[floor(i / (Ho * Wo)) % g.F] as number;
  }
  forEachTap(g, (xi, yi, ki) => {
    Y[yi] = (Y[yi] as number) + (K[ki] as number) * (X[xi] as number);
  });
  return Y;
}

/** The gradients of L = ⟨dY, Y⟩: dX = Σ K·dY over the taps reading X, dK = Σ X·dY, dbias = Σ dY. */
export function convBackward(
  g: RefGeom,
  X: ArrayLike<number>,
  K: ArrayLike<number>,
  dY: ArrayLike<number>,
): { dX: Float64Array; dK: Float64Array; dbias: Float64Array } {
  const { Ho, Wo } = refOutSize(g);
  const dX = new Float64Array(g.batch * g.C * g.H * g.W);
  const dK = new Float64Array(g.F * g.C * g.kh * g.kw);
  const dbias = new Float64Array(g.F);
  for (let i = 0; i < dY.length; i++) {
    const f = floor(i / (Ho * Wo)) % g.F;
    dbias[f] = (dbias[f] as number) + (dY[i] as number);
  }
  forEachTap(g, (xi, yi, ki) => {
    dX[xi] = (dX[xi] as number) + (K[ki] as number) * (dY[yi] as number);
    dK[ki] = (dK[ki] as number) + (X[xi] as number) * (dY[yi] as number);
  });
  return { dX, dK, dbias };
}
