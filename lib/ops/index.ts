/**
 * index.ts — the op wrappers, one module per native op (see native/README.md for the table).
 */
export { GEOMETRIES, type Geometry, type OpOptions } from './common';
export {
  type Conv2dBackwardOptions,
  type Conv2dForwardOptions,
  type Conv2dGrads,
  conv2dBackward,
  conv2dBackwardAsync,
  conv2dForward,
  conv2dForwardAsync,
} from './conv2d';
export {
  type Conv2dGeometry,
  type Conv2dPair,
  type CpConv2dBackwardOptions,
  type CpConv2dFactors,
  type CpConv2dForwardOptions,
  type CpConv2dGrads,
  conv2dOutputSize,
  cpConv2dBackward,
  cpConv2dBackwardAsync,
  cpConv2dForward,
  cpConv2dForwardAsync,
} from './cp_conv2d';
export {
  CP_DENSE_MAX_ORDER,
  CP_DENSE_MIN_ORDER,
  type CpMttkrpOptions,
  type CpMttkrpResult,
  cpMaterialize,
  cpMaterializeAsync,
  cpMttkrp,
  cpMttkrpAsync,
} from './cp_dense';
export { cpHypergrad } from './cp_hypergrad';
export {
  type CpLinearBackwardOptions,
  type CpLinearBackwardResult,
  type CpLinearDims,
  type CpLinearForwardOptions,
  type CpLinearForwardResult,
  type CpLinearInputs,
  cpLinearBackward,
  cpLinearBackwardAsync,
  cpLinearForward,
  cpLinearForwardAsync,
} from './cp_linear';
export { cpTangent } from './cp_tangent';
export { GEMM_IMPLS, type GemmArgs, type GemmImpl, gemm, gemmAsync, gemmImpl, setGemmImpl } from './gemm';
export {
  type MaxPool2dBackwardOptions,
  type MaxPool2dForwardOptions,
  type MaxPool2dForwardResult,
  maxPool2dBackward,
  maxPool2dForward,
  type Pool2dGeometry,
  pool2dOutputSize,
} from './max_pool2d';
export { type ReluBackwardOptions, type ReluForwardOptions, reluBackward, reluForward } from './relu';
