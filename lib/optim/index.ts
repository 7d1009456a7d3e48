/**
 * optim/index.ts — the gradient optimisers of the model toolkit: the `Optimizer` interface and its
 * base class, SGD, Adam, AdamW, learning-rate schedules and gradient clipping. Re-exported from
 * lib/index.ts. Tested in test/unit/optim-*.test.ts.
 */
export { Adam, type AdamHyper, type AdamOptions, type AdamSettings, AdamW } from './adam';
export { clipGradNorm, clipGradValue } from './clip';
export {
  BaseOptimizer,
  type BufferMap,
  type GroupHyper,
  type Optimizer,
  type OptimizerStateDict,
  type OptimizerStateMeta,
  type ParamGroup,
  type ParamState,
  type ScheduleOption,
} from './optimizer';
export { type LrCosineOptions, type LrSchedule, lrConstant, lrCosine, lrLinearWarmup } from './schedule';
export { SGD, type SGDHyper, type SGDOptions, type SGDSettings } from './sgd';
