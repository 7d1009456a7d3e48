/**
 * index.ts — file formats: safetensors reading/writing and model weights.
 */
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
