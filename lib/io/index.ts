/**
 * index.ts — file formats: safetensors reading/writing, model weights, PEFT LoRA export/import.
 */
export {
  CP_ADAPTERS_FILE,
  CP_FORMAT,
  type ExportedModule,
  exportPeft,
  importPeft,
  loraToCp,
  type ModuleNames,
  PEFT_CONFIG_FILE,
  PEFT_TASK_TYPES,
  PEFT_WEIGHTS_FILE,
  type PeftExportOptions,
  type PeftExportResult,
  type PeftImportOptions,
} from './peft';
export {
  decodeSafetensors,
  encodeSafetensors,
  MAX_HEADER_BYTES,
  readSafetensors,
  type SafeTensor,
  type SafetensorsDtype,
  type SafetensorsFile,
  writeSafetensors,
} from './safetensors';
export { type LoadWeightsOptions, loadWeights, saveWeights } from './weights';
