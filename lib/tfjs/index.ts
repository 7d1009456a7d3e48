/**
 * tfjs/index.ts — debora's tfjs integration (the subpath `debora/tfjs`): the native cp_linear op as
 * a differentiable tfjs op, the DeboraDense layer, and the Frank-Wolfe driver for a tfjs training
 * loop. tfjs is a peer: nothing here loads it; every entry point takes the caller's `tf` namespace.
 * See docs/tfjs.md. Tested in test/native/tfjs-*.test.ts.
 */
export { cpLinearTf } from './cp_linear';
export {
  type DeboraAdapterArgs,
  type DeboraDense,
  type DeboraDenseArgs,
  type DeboraDenseClass,
  deboraDense,
  deboraDenseClass,
} from './dense';
export { TfFrankWolfe, type TfFrankWolfeOptions, type TfOuterStep } from './frank-wolfe';
export { remapOptimizerSlots } from './optimizer-state';
export type { Tf } from './types';
