/**
 * reference_conv2d.ts — float64 references of op cp_conv2d, written for clarity, not speed:
 * the dense convolution with the materialised ΔK (forward, and its transposed / kernel gradients
 * followed by the MTTKRPs that give the factor gradients), and, independently, the chain
 * 1×1 → kh×1 → 1×kw → ·s → 1×1 with its backward. Used by test/native/cp_conv2d.test.ts.
 */

/** A fully resolved geometry (strides, padding, dilation per axis). */
export interface RefGeom {
  batch: number;
  C: number;
  H: number;
  W: number;
  F: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
}

/** U1 F×r, U2 C×r, U3 kh×r, U4 kw×r row-major; s of length r. */
export interface RefFactors {
  U1: ArrayLike<number>;
  U2: ArrayLike<number>;
  U3: ArrayLike<number>;
  U4: ArrayLike<number>;
  s: ArrayLike<number>;
}

export interface RefGrads {
  dX: Float64Array;
  dU1: Float64Array;
  dU2: Float64Array;
  dU3: Float64Array;
  dU4: Float64Array;
  ds: Float64Array;
}

export function refOutSize(g: RefGeom): { Ho: number; Wo: number } {
  return {
    Ho: Math.floor((g.H + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh) + 1,
    Wo: Math.floor((g.W + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw) + 1,
  };
}

const at = (a: Float64Array, i: number): number => a[i] as number;

/** Inputs as float64 once, so the loops below index one array type (monomorphic, fast in V8). */
const f64 = (a: ArrayLike<number>): Float64Array => (a instanceof Float64Array ? a : Float64Array.from(a));

interface Factors64 {
  U1: Float64Array;
  U2: Float64Array;
  U3: Float64Array;
  U4: Float64Array;
  s: Float64Array;
}

const factors64 = (f: RefFactors): Factors64 => ({
  U1: f64(f.U1),
  U2: f64(f.U2),
  U3: f64(f.U3),
  U4: f64(f.U4),
  s: f64(f.s),
});

/** ΔK[f,c,a,b] = Σ_i s_i U1[f,i] U2[c,i] U3[a,i] U4[b,i], F×C×kh×kw row-major. */
export function materialize(g: RefGeom, r: number, factors: RefFactors): Float64Array {
  const f = factors64(factors);
  const K = new Float64Array(g.F * g.C * g.kh * g.kw);
  for (let o = 0; o < g.F; o++)
    for (let c = 0; c < g.C; c++)
      for (let a = 0; a < g.kh; a++)
        for (let b = 0; b < g.kw; b++) {
          let v = 0;
          for (let i = 0; i < r; i++) {
            v += at(f.s, i) * at(f.U1, o * r + i) * at(f.U2, c * r + i) * at(f.U3, a * r + i) * at(f.U4, b * r + i);
          }
          K[((o * g.C + c) * g.kh + a) * g.kw + b] = v;
        }
  return K;
}

/** Calls visit(xIndex, kIndex, yIndex) for every term of the dense convolution. */
function forEachTerm(g: RefGeom, visit: (xi: number, ki: number, yi: number) => void): void {
  const { Ho, Wo } = refOutSize(g);
  for (let n = 0; n < g.batch; n++)
    for (let o = 0; o < g.F; o++)
      for (let oh = 0; oh < Ho; oh++)
        for (let ow = 0; ow < Wo; ow++) {
          const yi = ((n * g.F + o) * Ho + oh) * Wo + ow;
          for (let c = 0; c < g.C; c++)
            for (let a = 0; a < g.kh; a++) {
              const ih = oh * g.sh - g.ph + a * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              for (let b = 0; b < g.kw; b++) {
                const iw = ow * g.sw - g.pw + b * g.dw;
                if (iw < 0 || iw >= g.W) continue;
                visit(((n * g.C + c) * g.H + ih) * g.W + iw, ((o * g.C + c) * g.kh + a) * g.kw + b, yi);
              }
            }
        }
}

/** The textbook convolution Y = conv2d(X, K) (cross-correlation, zero padding). */
export function denseForward(g: RefGeom, Xin: ArrayLike<number>, Kin: ArrayLike<number>): Float64Array {
  const X = f64(Xin);
  const K = f64(Kin);
  const { Ho, Wo } = refOutSize(g);
  const Y = new Float64Array(g.batch * g.F * Ho * Wo);
  forEachTerm(g, (xi, ki, yi) => {
    Y[yi] = (Y[yi] as number) + at(K, ki) * at(X, xi);
  });
  return Y;
}

/** The dense backward from dY: dX = conv2dᵀ(dY, K), dK = Σ dY ⊗ X (the kernel gradient), then the
 * factor gradients as MTTKRPs of dK: dU1[f,i] = s_i Σ dK[f,c,a,b] U2[c,i] U3[a,i] U4[b,i], etc. */
export function denseBackward(
  g: RefGeom,
  r: number,
  Xin: ArrayLike<number>,
  factors: RefFactors,
  dYin: ArrayLike<number>,
): RefGrads {
  const X = f64(Xin);
  const dY = f64(dYin);
  const f = factors64(factors);
  const K = materialize(g, r, f);
  const dX = new Float64Array(g.batch * g.C * g.H * g.W);
  const dK = new Float64Array(K.length);
  forEachTerm(g, (xi, ki, yi) => {
    dX[xi] = (dX[xi] as number) + at(K, ki) * at(dY, yi);
    dK[ki] = (dK[ki] as number) + at(dY, yi) * at(X, xi);
  });
  const dU1 = new Float64Array(g.F * r);
  const dU2 = new Float64Array(g.C * r);
  const dU3 = new Float64Array(g.kh * r);
  const dU4 = new Float64Array(g.kw * r);
  const ds = new Float64Array(r);
  for (let i = 0; i < r; i++) {
    const si = at(f.s, i);
    for (let o = 0; o < g.F; o++)
      for (let c = 0; c < g.C; c++)
        for (let a = 0; a < g.kh; a++)
          for (let b = 0; b < g.kw; b++) {
            const G = dK[((o * g.C + c) * g.kh + a) * g.kw + b] as number;
            const u1 = at(f.U1, o * r + i);
            const u2 = at(f.U2, c * r + i);
            const u3 = at(f.U3, a * r + i);
            const u4 = at(f.U4, b * r + i);
            dU1[o * r + i] = (dU1[o * r + i] as number) + si * G * u2 * u3 * u4;
            dU2[c * r + i] = (dU2[c * r + i] as number) + si * G * u1 * u3 * u4;
            dU3[a * r + i] = (dU3[a * r + i] as number) + si * G * u1 * u2 * u4;
            dU4[b * r + i] = (dU4[b * r + i] as number) + si * G * u1 * u2 * u3;
            ds[i] = (ds[i] as number) + G * u1 * u2 * u3 * u4;
          }
  }
  return { dX, dU1, dU2, dU3, dU4, ds };
}

/** The chain's intermediates: Z1 (r×H×W per image), Z2 (r×Ho×W), Z3 (r×Ho×Wo). */
function chainIntermediates(g: RefGeom, r: number, X: Float64Array, f: Factors64) {
  const { Ho, Wo } = refOutSize(g);
  const Z1 = new Float64Array(g.batch * r * g.H * g.W);
  const Z2 = new Float64Array(g.batch * r * Ho * g.W);
  const Z3 = new Float64Array(g.batch * r * Ho * Wo);
  for (let n = 0; n < g.batch; n++)
    for (let i = 0; i < r; i++) {
      for (let h = 0; h < g.H; h++)
        for (let w = 0; w < g.W; w++) {
          let v = 0;
          for (let c = 0; c < g.C; c++) v += at(f.U2, c * r + i) * at(X, ((n * g.C + c) * g.H + h) * g.W + w);
          Z1[((n * r + i) * g.H + h) * g.W + w] = v;
        }
      for (let oh = 0; oh < Ho; oh++)
        for (let w = 0; w < g.W; w++) {
          let v = 0;
          for (let a = 0; a < g.kh; a++) {
            const ih = oh * g.sh - g.ph + a * g.dh;
            if (ih >= 0 && ih < g.H) v += at(f.U3, a * r + i) * (Z1[((n * r + i) * g.H + ih) * g.W + w] as number);
          }
          Z2[((n * r + i) * Ho + oh) * g.W + w] = v;
        }
      for (let oh = 0; oh < Ho; oh++)
        for (let ow = 0; ow < Wo; ow++) {
          let v = 0;
          for (let b = 0; b < g.kw; b++) {
            const iw = ow * g.sw - g.pw + b * g.dw;
            if (iw >= 0 && iw < g.W) v += at(f.U4, b * r + i) * (Z2[((n * r + i) * Ho + oh) * g.W + iw] as number);
          }
          Z3[((n * r + i) * Ho + oh) * Wo + ow] = v;
        }
    }
  return { Ho, Wo, Z1, Z2, Z3 };
}

/** The chain 1×1 (U2ᵀ) → kh×1 (U3) → 1×kw (U4) → ·s → 1×1 (U1), without ΔK. */
export function chainForward(g: RefGeom, r: number, X: ArrayLike<number>, factors: RefFactors): Float64Array {
  const f = factors64(factors);
  const { Ho, Wo, Z3 } = chainIntermediates(g, r, f64(X), f);
  const P = Ho * Wo;
  const Y = new Float64Array(g.batch * g.F * P);
  for (let n = 0; n < g.batch; n++)
    for (let o = 0; o < g.F; o++)
      for (let p = 0; p < P; p++) {
        let v = 0;
        for (let i = 0; i < r; i++) v += at(f.U1, o * r + i) * at(f.s, i) * (Z3[(n * r + i) * P + p] as number);
        Y[(n * g.F + o) * P + p] = v;
      }
  return Y;
}

/** Backward through the chain, stage by stage (transposed depthwise convolutions, then 1×1). */
export function chainBackward(
  g: RefGeom,
  r: number,
  Xin: ArrayLike<number>,
  factors: RefFactors,
  dYin: ArrayLike<number>,
): RefGrads {
  const X = f64(Xin);
  const dY = f64(dYin);
  const f = factors64(factors);
  const { Ho, Wo, Z1, Z2, Z3 } = chainIntermediates(g, r, X, f);
  const P = Ho * Wo;
  const dU1 = new Float64Array(g.F * r);
  const dU2 = new Float64Array(g.C * r);
  const dU3 = new Float64Array(g.kh * r);
  const dU4 = new Float64Array(g.kw * r);
  const ds = new Float64Array(r);
  const dX = new Float64Array(g.batch * g.C * g.H * g.W);
  for (let n = 0; n < g.batch; n++)
    for (let i = 0; i < r; i++) {
      const si = at(f.s, i);
      // G3 = ∂L/∂Z3 = s_i · Σ_f U1[f,i] dY[f]
      const G3 = new Float64Array(P);
      for (let p = 0; p < P; p++) {
        let t = 0;
        for (let o = 0; o < g.F; o++) {
          const dy = at(dY, (n * g.F + o) * P + p);
          t += at(f.U1, o * r + i) * dy;
          dU1[o * r + i] = (dU1[o * r + i] as number) + si * dy * (Z3[(n * r + i) * P + p] as number);
        }
        ds[i] = (ds[i] as number) + t * (Z3[(n * r + i) * P + p] as number);
        G3[p] = si * t;
      }
      const G2 = new Float64Array(Ho * g.W);
      for (let oh = 0; oh < Ho; oh++)
        for (let ow = 0; ow < Wo; ow++)
          for (let b = 0; b < g.kw; b++) {
            const iw = ow * g.sw - g.pw + b * g.dw;
            if (iw < 0 || iw >= g.W) continue;
            const gz = G3[oh * Wo + ow] as number;
            G2[oh * g.W + iw] = (G2[oh * g.W + iw] as number) + at(f.U4, b * r + i) * gz;
            dU4[b * r + i] = (dU4[b * r + i] as number) + gz * (Z2[((n * r + i) * Ho + oh) * g.W + iw] as number);
          }
      const G1 = new Float64Array(g.H * g.W);
      for (let oh = 0; oh < Ho; oh++)
        for (let a = 0; a < g.kh; a++) {
          const ih = oh * g.sh - g.ph + a * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          for (let w = 0; w < g.W; w++) {
            const gz = G2[oh * g.W + w] as number;
            G1[ih * g.W + w] = (G1[ih * g.W + w] as number) + at(f.U3, a * r + i) * gz;
            dU3[a * r + i] = (dU3[a * r + i] as number) + gz * (Z1[((n * r + i) * g.H + ih) * g.W + w] as number);
          }
        }
      for (let c = 0; c < g.C; c++) {
        const u2 = at(f.U2, c * r + i);
        for (let q = 0; q < g.H * g.W; q++) {
          const xi = (n * g.C + c) * g.H * g.W + q;
          dU2[c * r + i] = (dU2[c * r + i] as number) + at(X, xi) * (G1[q] as number);
          dX[xi] = (dX[xi] as number) + u2 * (G1[q] as number);
        }
      }
    }
  return { dX, dU1, dU2, dU3, dU4, ds };
}

/** Element-wise |x| as float64 (the references applied to |inputs| bound every term's magnitude). */
export function abs64(x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.abs(x[i] as number);
  return out;
}
