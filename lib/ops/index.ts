/**
 * index.ts — the op wrappers, one module per native op (see native/README.md for the table).
 */
export { GEOMETRIES, type Geometry, type OpOptions } from './common';
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
