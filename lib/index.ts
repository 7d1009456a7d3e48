/**
 * index.ts — the public API of debora. See README.md for a tour; each module's header says what
 * it holds and where it is tested.
 */
export { BACKEND_NAMES, type Backend, type BackendName, getBackend, resolveBackend, setBackend } from './backend';
export {
  type CpLinearDeviceGrads,
  type CpLinearDeviceInputs,
  CudaBuffer,
  cpLinearBackwardCuda,
  cpLinearForwardCuda,
  cudaSynchronize,
} from './cuda-buffer';
export * from './data';
export { DeboraError, type DeboraErrorCode, isDeboraError, NATIVE_ERROR_CODES } from './errors';
export * from './fw';
export { type CudaDeviceInfo, type DeboraInfo, formatInfo, info } from './info';
export * from './io';
export * from './job';
export * from './models';
export * from './nn';
export * from './ops';
export * from './optim';
export {
  buildPlots,
  escapeHtml,
  JOB_STATUSES,
  type JobStatus,
  PLOT_NAMES,
  type PlotDef,
  type PlotName,
  plotDefs,
  REPORT_FILES,
  type ResultRow,
  RUN_FILES,
  type RunData,
  type RunEvent,
  type RunResults,
  readRunDir,
  renderReport,
  renderSpec,
  validateRunResults,
  type WrittenReport,
  writeReport,
} from './report';
export { Rng } from './rng';
export { getNumThreads, SIMD_LEVELS, type SimdLevel, setNumThreads, setSimd } from './runtime';
export * from './trainer';
