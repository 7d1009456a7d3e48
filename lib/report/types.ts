/**
 * types.ts — the files of a run directory as the job runner writes them (results.json and the
 * lines of events.jsonl) and what readRunDir makes of them. The runner imports these types, so
 * writer and reader cannot drift apart. Tested through test/unit/report.test.ts.
 */
import type { TrainerEvent } from '../trainer/trainer';

/** State of the whole job in results.json: 'running' while it writes, then how it ended. */
export type JobStatus = 'running' | 'completed' | 'interrupted';

/** Statuses accepted in results.json, in the order the report explains them. */
export const JOB_STATUSES: readonly JobStatus[] = ['running', 'completed', 'interrupted'];

/** One finished (or stopped) training run: one row of the results table. */
export interface ResultRow {
  /** Model id, e.g. 'mlp', 'cnn'. */
  model: string;
  /** Method label as shown in tables, e.g. 'debora', 'lora-r4', 'head', 'full'. */
  method: string;
  seed: number;
  /** Accuracy on the held-out split, in [0, 1]. */
  heldOutAccuracy: number;
  /** Adapter parameters at the end (trainable parameters for full / head). */
  adapterParams: number;
  /** Final active rank per adapted layer ({} for methods without adapters). */
  ranks: Record<string, number>;
  wallSeconds: number;
  /** Outer steps taken. */
  steps: number;
  status: 'completed' | 'interrupted';
}

/** The content of results.json. */
export interface RunResults {
  status: JobStatus;
  /** ISO 8601 time the job started. */
  startedAt: string;
  /** ISO 8601 time the job ended (absent while running). */
  finishedAt?: string;
  /** Accuracy of each pretrained model on the target task before any fine-tuning, by model id. */
  zeroShot?: Record<string, number>;
  runs: ResultRow[];
}

/**
 * One line of events.jsonl: a trainer event plus which run it belongs to. In the file, NaN
 * numbers are null (JSON has no NaN); readRunDir turns them back into NaN.
 */
export interface RunEvent extends TrainerEvent {
  /** Run id, unique within the job, e.g. 'mlp/debora/seed0'. */
  run: string;
  model: string;
  /** Method label, the same string as ResultRow.method. */
  label: string;
  seed: number;
}

/** Everything the report is made from, validated. */
export interface RunData {
  /** The run directory, as given. */
  dir: string;
  /** config.json as parsed (any JSON), or undefined when the file is absent. */
  config: unknown;
  results: RunResults;
  /** Events in file order. Empty when events.jsonl is absent. */
  events: RunEvent[];
  /** Things the reader tolerated and the report should say (missing files, a cut last line). */
  notes: string[];
}
