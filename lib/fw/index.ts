/**
 * fw/index.ts — the public surface of the Frank-Wolfe optimiser on the budget simplex
 * (ALGORITHM.md section 4; docs/frank-wolfe.md). Re-exported from lib/index.ts.
 * Tested through test/unit/fw-*.test.ts and test/convergence/fw-*.test.ts.
 */
export { type AdapterSlot, type BlockSlot, buildLayout, type Layout } from './blocks';
export {
  type FaceConfig,
  type FrankWolfeConfig,
  type NormalizedFrankWolfeConfig,
  validateFrankWolfeConfig,
} from './config';
export { FaceDetector, type FaceDetectorState, SupportTracker } from './face';
export { type FrankWolfeProblem, type RunOptions, runFrankWolfe } from './run';
export {
  type BudgetScheduleSpec,
  budgetAt,
  type DecayShape,
  type NormalizedSchedule,
  type SchedulePhase,
  schedulePhase,
} from './schedule';
export {
  AdaptiveStep,
  type AdaptiveStepSpec,
  ConstantStep,
  type ConstantStepSpec,
  createStepSizeRule,
  OpenLoopStep,
  type OpenLoopStepSpec,
  ShortStep,
  type ShortStepSpec,
  STEP_SIZE_RULES,
  type StepSizeChoice,
  type StepSizeQuery,
  type StepSizeRule,
  type StepSizeSpec,
} from './step-size';
export {
  type FrankWolfeState,
  SimplexFrankWolfe,
  type StepContext,
  type StepperOptions,
  type TruncateOptions,
} from './stepper';
export type {
  AdapterSpec,
  AdapterTruncation,
  BlockStepInfo,
  FrankWolfeResult,
  RunStatus,
  Scope,
  StepEvent,
  StepStatus,
  StepType,
  TruncationResult,
  Variant,
} from './types';
export type { VectorLike } from './vector';
