/**
 * index.ts — the bilevel trainer and its validated configuration.
 */
export {
  type InnerConfig,
  type ResolvedTrainerConfig,
  TRAIN_METHODS,
  type TrainerAdapterConfig,
  type TrainerConfig,
  type TrainMethod,
  validateTrainerConfig,
} from './config';
export { type FitResult, Trainer, type TrainerEvent, type TrainerOptions } from './trainer';
