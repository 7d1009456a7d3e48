/**
 * index.ts — training jobs: tasks, validated job configs, the runner that writes a run directory,
 * progress output and the results table.
 */
export {
  DEFAULT_JOB,
  DEFAULT_METHODS,
  type JobConfig,
  type JobMethod,
  type ResolvedJobConfig,
  trainerConfig,
  validateJobConfig,
} from './config';
export { EXPORT_FORMATS, type ExportFormat, type ExportOutcome, exportRun, loadRunModel } from './export';
export { createProgress, type Progress, type TextSink } from './progress';
export { type JobOptions, type JobOutcome, runJob } from './run';
export { formatResults } from './table';
export { TASKS, type Task, type TaskModel } from './tasks';
