/**
 * csv.ts — a small CSV reader (RFC 4180 quoting, CRLF/LF/CR, optional header, BOM) turning numeric
 * tables into data sets with errors that name the file, line and column; and the vendored UCI
 * handwritten digits (data/uci-digits, 1,797 8×8 images with values 0..16).
 * Tested in test/unit/data-csv.test.ts.
 */
import * as path from 'node:path';
import { DeboraError } from '../errors';
import { packageRoot } from '../native';
import { describe, int, invalid } from '../validate';
import { build, checkSampleShape, type Dataset } from './dataset';
import { readMaybeGzip } from './files';

/** One CSV record: its fields and the line it starts on (1-based; quoted fields may span lines). */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/** Options of `parseCsv`. */
export interface CsvParseOptions {
  /** One character, default ','. */
  delimiter?: string;
  /** Names the input in error messages (a file path). Default '<text>'. */
  source?: string;
}

function csvError(where: string, source: string, what: string): never {
  throw new DeboraError(`${where}: malformed CSV '${source}': ${what}`, 'DEBORA_INVALID_ARG');
}

function checkDelimiter(where: string, d: unknown): string {
  if (typeof d !== 'string' || d.length !== 1 || d === '"' || d === '\n' || d === '\r') {
    invalid(where, 'options.delimiter', 'one character other than a quote or a line break', describe(d));
  }
  return d;
}

/** Number of line breaks (CRLF, LF or a lone CR) in s. */
function countBreaks(s: string): number {
  let k = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 10) k++;
    else if (c === 13 && s.charCodeAt(i + 1) !== 10) k++;
  }
  return k;
}

/**
 * Splits CSV text into records. Fields may be quoted ("a, b", "say ""hi""", line breaks inside);
 * records end at CRLF, LF or CR; blank lines are skipped; a leading byte-order mark is ignored.
 * A quote that is never closed, or text right after a closing quote, is an error naming the line.
 */
export function parseCsv(text: string, options: CsvParseOptions = {}): CsvRecord[] {
  const where = 'parseCsv';
  if (typeof text !== 'string') invalid(where, 'text', 'a string', describe(text));
  const delim = checkDelimiter(where, options.delimiter ?? ',');
  const source = options.source ?? '<text>';
  const n = text.length;
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < n) {
    const recordLine = line;
    const fields: string[] = [];
    let quotedAny = false;
    for (;;) {
      let value: string;
      if (text[i] === '"') {
        quotedAny = true;
        const openLine = line;
        let j = i + 1;
        value = '';
        for (;;) {
          const q = text.indexOf('"', j);
          if (q < 0) csvError(where, source, `unterminated quoted field starting on line ${openLine}`);
          const piece = text.slice(j, q);
          line += countBreaks(piece);
          value += piece;
          if (text[q + 1] === '"') {
            value += '"';
            j = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
        if (i < n && text[i] !== delim && text[i] !== '\n' && text[i] !== '\r') {
          csvError(
            where,
            source,
            `unexpected ${JSON.stringify(text[i])} after the closing quote of field ${fields.length + 1} on line ${line}`,
          );
        }
      } else {
        let j = i;
        while (j < n) {
          const c = text[j];
          if (c === delim || c === '\n' || c === '\r') break;
          j++;
        }
        value = text.slice(i, j);
        i = j;
      }
      fields.push(value);
      if (i < n && text[i] === delim) {
        i++;
        continue;
      }
      break;
    }
    if (i < n) {
      i += text[i] === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
    }
    if (!(fields.length === 1 && fields[0] === '' && !quotedAny)) records.push({ fields, line: recordLine });
  }
  return records;
}

/** Options of `csvToDataset` / `readCsvDataset`. */
export interface CsvDatasetOptions {
  /** The first record names the columns. Default false. */
  header?: boolean;
  /** The label column: an index (negative counts from the end) or a header name. Default -1 (last). */
  label?: number | string;
  /** One character, default ','. */
  delimiter?: string;
  /** Default: the file name (or 'csv'). */
  name?: string;
  /** Default: largest label + 1. */
  numClasses?: number;
  /**
   * Class names: the label column holds these names (e.g. 'setosa') instead of integers, and the
   * class of a name is its index here.
   */
  classes?: readonly string[];
  /** Default [number of feature columns]. */
  sampleShape?: readonly number[];
  /** Names the input in error messages. */
  source?: string;
}

/** A field for an error message, cut short when long. */
const show = (s: string): string => `'${s.length > 40 ? `${s.slice(0, 37)}...` : s}'`;

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^\+?\d+$/;

/**
 * Turns numeric CSV text into a data set: every column but the label column is a feature (a
 * decimal number), the label column an integer class or one of `classes`. Errors name the line
 * and the column (and its header name).
 */
export function csvToDataset(text: string, options: CsvDatasetOptions = {}): Dataset {
  const where = 'csvToDataset';
  return toDataset(where, text, options, options.source ?? '<text>');
}

function toDataset(where: string, text: string, options: CsvDatasetOptions, source: string): Dataset {
  if (typeof options !== 'object' || options === null) invalid(where, 'options', 'an object', describe(options));
  const header = options.header ?? false;
  if (typeof header !== 'boolean') invalid(where, 'options.header', 'a boolean', describe(header));
  const records = parseCsv(text, { delimiter: checkDelimiter(where, options.delimiter ?? ','), source });
  const names = header ? records.shift()?.fields : undefined;
  if (header && !names) csvError(where, source, 'no header line (the input is empty)');
  if (records.length === 0) csvError(where, source, 'no data lines');
  const width = names ? names.length : records[0]!.fields.length;
  const firstLine = records[0]!.line;
  if (width < 2)
    csvError(where, source, `expected at least 2 columns (features and a label), line ${firstLine} has ${width}`);
  for (const r of records) {
    if (r.fields.length !== width) {
      csvError(
        where,
        source,
        `expected ${width} fields on line ${r.line} (as on line ${names ? 1 : firstLine}), received ${r.fields.length}`,
      );
    }
  }
  const label = options.label ?? -1;
  let lc: number;
  if (typeof label === 'string') {
    if (!names) invalid(where, 'options.label', 'a column index (a name needs { header: true })', `'${label}'`);
    lc = names.indexOf(label);
    if (lc < 0)
      invalid(
        where,
        'options.label',
        `a column name in the header (${names.map((s) => `'${s}'`).join(', ')})`,
        `'${label}'`,
      );
  } else {
    lc = int(where, 'options.label', label, -width, width - 1);
    if (lc < 0) lc += width;
  }
  const classes = options.classes;
  if (
    classes !== undefined &&
    (!Array.isArray(classes) || classes.length === 0 || classes.some((c) => typeof c !== 'string'))
  ) {
    invalid(where, 'options.classes', 'a non-empty array of class names', describe(classes));
  }
  let numClasses: number | undefined;
  if (options.numClasses !== undefined)
    numClasses = int(where, 'options.numClasses', options.numClasses, 1, 0x7fffffff);
  if (classes && numClasses !== undefined && numClasses !== classes.length) {
    invalid(where, 'options.numClasses', `${classes.length} (the number of classes)`, `${numClasses}`);
  }
  const d = width - 1;
  const sampleShape =
    options.sampleShape === undefined ? [d] : checkSampleShape(where, 'options.sampleShape', options.sampleShape);
  if (sampleShape.reduce((a, s) => a * s, 1) !== d) {
    invalid(
      where,
      'options.sampleShape',
      `a shape of ${d} features (the feature columns)`,
      `[${sampleShape.join(', ')}]`,
      'DEBORA_SHAPE_MISMATCH',
    );
  }
  const column = (c: number): string => `column ${c + 1}${names ? ` ('${names[c]}')` : ''}`;
  const n = records.length;
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  let maxLabel = 0;
  for (let i = 0; i < n; i++) {
    const { fields, line } = records[i]!;
    let k = i * d;
    for (let c = 0; c < width; c++) {
      const raw = fields[c]!.trim();
      if (c === lc) {
        let cls: number;
        if (classes) {
          cls = classes.indexOf(raw);
          if (cls < 0) {
            csvError(
              where,
              source,
              `expected one of the classes ${classes.map((s) => `'${s}'`).join(', ')} in ${column(c)} on line ${line}, received ${show(raw)}`,
            );
          }
        } else {
          if (!INTEGER.test(raw)) {
            csvError(
              where,
              source,
              `expected a non-negative integer label in ${column(c)} on line ${line}, received ${show(raw)}`,
            );
          }
          cls = Number(raw);
          if (numClasses !== undefined && cls >= numClasses) {
            csvError(
              where,
              source,
              `expected a label in [0, ${numClasses}) in ${column(c)} on line ${line}, received ${raw}`,
            );
          }
        }
        y[i] = cls;
        if (cls > maxLabel) maxLabel = cls;
        continue;
      }
      if (!NUMBER.test(raw)) {
        csvError(where, source, `expected a number in ${column(c)} on line ${line}, received ${show(fields[c]!)}`);
      }
      const v = Number(raw);
      if (!Number.isFinite(v) || !Number.isFinite(Math.fround(v))) {
        csvError(
          where,
          source,
          `expected a number within float32 range in ${column(c)} on line ${line}, received ${show(raw)}`,
        );
      }
      x[k++] = v;
    }
  }
  const numCls = classes ? classes.length : (numClasses ?? maxLabel + 1);
  const name = options.name ?? 'csv';
  if (typeof name !== 'string') invalid(where, 'options.name', 'a string', describe(name));
  return build(name, x, y, sampleShape, numCls, classes);
}

/** Reads a CSV file (gzip detected from its first bytes) into a data set; see `csvToDataset`. */
export function readCsvDataset(file: string, options: CsvDatasetOptions = {}): Dataset {
  const where = 'readCsvDataset';
  const text = readMaybeGzip(where, file).toString('utf8');
  return toDataset(where, text, { name: path.basename(file).replace(/\.gz$/, ''), ...options }, options.source ?? file);
}

/** The vendored UCI digits file (scikit-learn's copy; see data/uci-digits/README.md). */
/** The vendored file, found from the package root (so it works from dist/, the sources and any build folder). */
export function uciDigitsPath(): string {
  return path.join(packageRoot(), 'data', 'uci-digits', 'digits.csv.gz');
}

/** Options of `loadUciDigits`. */
export interface UciDigitsOptions {
  /** Divide the pixel counts 0..16 by 16, to [0, 1]. Default false (keep 0..16). */
  scale?: boolean;
  /**
   * Another file in the same format (64 counts and the class per line), e.g. the full UCI
   * optdigits.tra. Default: the vendored 1,797-sample file.
   */
  path?: string;
}

/**
 * The UCI optical handwritten digits: 8×8 images (sample shape [1, 8, 8]) of pixel counts 0..16
 * (or [0, 1] with `scale`), 10 classes; 1,797 samples in the vendored copy, in file order.
 */
export function loadUciDigits(options: UciDigitsOptions = {}): Dataset {
  const where = 'loadUciDigits';
  const scale = options.scale ?? false;
  if (typeof scale !== 'boolean') invalid(where, 'options.scale', 'a boolean', describe(scale));
  const file = options.path ?? uciDigitsPath();
  const raw = readCsvDataset(file, {
    header: false,
    label: -1,
    numClasses: 10,
    sampleShape: [1, 8, 8],
    name: 'uci-digits',
  });
  const x = raw.x;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!(Number.isInteger(v) && v >= 0 && v <= 16)) {
      throw new DeboraError(
        `${where}: malformed file '${file}': expected pixel counts 0..16, received ${v} in feature ${i % 64} of sample ${Math.floor(i / 64)}`,
        'DEBORA_INVALID_ARG',
      );
    }
    if (scale) x[i] = v / 16;
  }
  return build(raw.name, x, raw.y, raw.sampleShape, 10, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
}
