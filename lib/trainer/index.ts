/**
 * index.ts — the bilevel trainer, its validated configuration, the AdaLoRA-style baseline's
 * schedule and scores, and checkpoints.
 */
export {
  type AdaLoraSchedule,
  adaloraBudget,
  type ComponentGroup,
  chooseComponents,
  type ImportanceState,
  ImportanceTracker,
} from './adalora';
export { CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from './checkpoint';
export {
  type AdaLoraConfig,
  DEFAULT_FW_WARMUP,
  type InnerConfig,
  type ResolvedAdaLoraConfig,
  type ResolvedTrainerConfig,
  TRAIN_METHODS,
  type TrainerAdapterConfig,
  type TrainerConfig,
  type TrainMethod,
  validateTrainerConfig,
} from './config';
export {
  type FitResult,
  Trainer,
  type TrainerEvent,
  type TrainerOptions,
  type TrainerState,
  type TrainerStateMeta,
} from './trainer';
