/**
 * index.ts — the model toolkit: tensors, parameters, layers (Linear and Conv2d with optional CP
 * adapters, activations, pooling, normalisation, dropout), Sequential, losses and metrics,
 * adapter attachment, parameter counts, and the training step.
 */
export { Dropout, erf, Flatten, GELU, ReLU } from './activation';
export {
  ADAPTER_INITS,
  type AdapterInit,
  type AdapterOptions,
  CpAdapter,
  type ParameterStateHolder,
  type ResolvedAdapterOptions,
  resolveAdapterOptions,
} from './adapter';
export { type AttachConfig, adaptersOf, attachAdapters, freezeBase, namedModules, setTrainable } from './attach';
export { Conv2d, type Conv2dOptions } from './conv2d';
export { modeGeometry, normalizeColumns, orthonormalizeColumns, randomFactor, retract } from './geometry';
export { Linear, type LinearOptions } from './linear';
export { accuracy, argmax, confusionMatrix, type LossResult, MSELoss, SoftmaxCrossEntropy } from './loss';
export { mergeAdapters, mergedAdapters, unmergeAdapters } from './merge';
export { Module } from './module';
export { BatchNorm2d, LayerNorm, type NormOptions } from './norm';
export { Parameter, type ParameterKind, selectColumns } from './parameter';
export { AvgPool2d, MaxPool2d, type Pair, type PoolOptions } from './pool';
export { PROFILE_CATEGORIES, type ProfileCategory, profiler } from './profile';
export { Sequential } from './sequential';
export { countParameters, type ParameterCounts, summary } from './summary';
export { shapeStr, sizeOf, type Tensor, tensor } from './tensor';
export { evaluate, type Loss, type TrainStepOptions, type TrainStepResult, trainStep } from './train';
