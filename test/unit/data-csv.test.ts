/**
 * data-csv.test.ts — lib/data/csv.ts: the CSV parser's edge cases (quotes, escaped quotes, line
 * breaks inside quotes, CRLF/CR, BOM, blank lines), numeric tables to data sets with errors naming
 * the line and column, gzip files, and the vendored UCI digits (1,797 samples, class counts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { csvToDataset, loadUciDigits, parseCsv, readCsvDataset, uciDigitsPath } from '../../lib/data/csv';
import { classCounts } from '../../lib/data/dataset';
import { type DeboraError, isDeboraError } from '../../lib/errors';

function thrown(fn: () => unknown): DeboraError {
  try {
    fn();
  } catch (e) {
    if (isDeboraError(e)) return e;
    throw e;
  }
  throw new Error('expected a throw');
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'debora-csv-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const rows = (text: string, delimiter?: string): string[][] =>
  parseCsv(text, delimiter ? { delimiter } : {}).map((r) => r.fields);

describe('parseCsv', () => {
  test('plain fields, LF / CRLF / CR line ends, a missing final newline', () => {
    expect(rows('a,b\n1,2\n')).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
    expect(rows('a,b\r\n1,2\r\n3,4')).toEqual([
      ['a', 'b'],
      ['1', '2'],
      ['3', '4'],
    ]);
    expect(rows('a\rb\r')).toEqual([['a'], ['b']]);
    expect(rows('x;y\n1;2', ';')).toEqual([
      ['x', 'y'],
      ['1', '2'],
    ]);
  });

  test('quoted fields hold delimiters, escaped quotes and line breaks; line numbers follow', () => {
    const recs = parseCsv('"a,b","say ""hi""",c\n"multi\r\nline",2,3\n\n4,"",6\n');
    expect(recs.map((r) => r.fields)).toEqual([
      ['a,b', 'say "hi"', 'c'],
      ['multi\r\nline', '2', '3'],
      ['4', '', '6'],
    ]);
    expect(recs.map((r) => r.line)).toEqual([1, 2, 5]); // the quoted break moves the next record down
  });

  test('empty fields, trailing delimiters, blank lines and a byte-order mark', () => {
    expect(rows('\ufeff1,,3,\n\n\r\n,\n')).toEqual([
      ['1', '', '3', ''],
      ['', ''],
    ]);
    expect(rows('')).toEqual([]);
    expect(rows('""')).toEqual([['']]); // a quoted empty field is a record, not a blank line
  });

  test('malformed quoting is an error naming the line', () => {
    const open = thrown(() => parseCsv('1,2\n3,"4\n5,6\n', { source: 'f.csv' }));
    expect(open.name).toBe('DeboraError');
    expect(open.code).toBe('DEBORA_INVALID_ARG');
    expect(open.message).toBe("parseCsv: malformed CSV 'f.csv': unterminated quoted field starting on line 2");
    const after = thrown(() => parseCsv('1,2\n"3"x,4\n'));
    expect(after.message).toBe(
      `parseCsv: malformed CSV '<text>': unexpected "x" after the closing quote of field 1 on line 2`,
    );
    expect(thrown(() => parseCsv('1', { delimiter: '"' })).message).toContain("'options.delimiter'");
  });
});

describe('csvToDataset', () => {
  test('last column is the label by default; features are numbers', () => {
    const ds = csvToDataset('1.5, 2,0\n-3e2,.25,2\n+4,5.,1\n');
    expect(ds.n).toBe(3);
    expect(ds.sampleShape).toEqual([2]);
    expect(ds.numClasses).toBe(3);
    expect(Array.from(ds.x)).toEqual([1.5, 2, -300, 0.25, 4, 5]);
    expect(Array.from(ds.y)).toEqual([0, 2, 1]);
  });

  test('a header, the label by name or index, class names, a sample shape', () => {
    const text = 'species,a,b,c,d\nsetosa,1,2,3,4\nvirginica,5,6,7,8\n';
    const ds = csvToDataset(text, {
      header: true,
      label: 'species',
      classes: ['setosa', 'versicolor', 'virginica'],
      sampleShape: [2, 2],
      name: 'iris',
    });
    expect(ds.name).toBe('iris');
    expect(Array.from(ds.y)).toEqual([0, 2]);
    expect(ds.numClasses).toBe(3);
    expect(ds.classNames).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(ds.sampleShape).toEqual([2, 2]);
    expect(Array.from(ds.x)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const byIndex = csvToDataset('0,9,8\n1,7,6\n', { label: 0, numClasses: 4 });
    expect(Array.from(byIndex.y)).toEqual([0, 1]);
    expect(Array.from(byIndex.x)).toEqual([9, 8, 7, 6]);
    expect(byIndex.numClasses).toBe(4);
    expect(Array.from(csvToDataset('0,9,8\n1,7,6\n', { label: -3 }).y)).toEqual([0, 1]);
  });

  test('errors name the line and the column (and its header name)', () => {
    const src = { source: 'data.csv', header: true };
    const num = thrown(() => csvToDataset('a,b,label\n1,2,0\n3,x4,1\n', src));
    expect(num.code).toBe('DEBORA_INVALID_ARG');
    expect(num.message).toBe(
      "csvToDataset: malformed CSV 'data.csv': expected a number in column 2 ('b') on line 3, received 'x4'",
    );
    const empty = thrown(() => csvToDataset('1,,0\n', { source: 'e.csv' }));
    expect(empty.message).toBe(
      "csvToDataset: malformed CSV 'e.csv': expected a number in column 2 on line 1, received ''",
    );
    for (const bad of ['0x10', 'Infinity', 'NaN', '1,5', '1e']) {
      const e = thrown(() => csvToDataset(`"${bad}",0\n`));
      expect(e.message).toContain('expected a number in column 1 on line 1');
    }
    expect(thrown(() => csvToDataset('1e39,0\n')).message).toContain('within float32 range');
    const ragged = thrown(() => csvToDataset('1,2,0\n\n3,0\n', { source: 'r.csv' }));
    expect(ragged.message).toBe(
      "csvToDataset: malformed CSV 'r.csv': expected 3 fields on line 3 (as on line 1), received 2",
    );
    const label = thrown(() => csvToDataset('1,2,0\n3,4,2.5\n'));
    expect(label.message).toContain("expected a non-negative integer label in column 3 on line 2, received '2.5'");
    expect(thrown(() => csvToDataset('1,2,-1\n')).message).toContain("received '-1'");
    expect(thrown(() => csvToDataset('1,2,5\n', { numClasses: 5 })).message).toContain(
      'expected a label in [0, 5) in column 3 on line 1',
    );
    expect(thrown(() => csvToDataset('a,b\n1,cat\n', { header: true, classes: ['dog'] })).message).toContain(
      "expected one of the classes 'dog' in column 2 ('b') on line 2, received 'cat'",
    );
    expect(thrown(() => csvToDataset('a,b\n1,2\n', { header: true, label: 'c' })).message).toBe(
      "csvToDataset: expected a column name in the header ('a', 'b') for argument 'options.label', received 'c'",
    );
    expect(thrown(() => csvToDataset('1,2\n', { label: 'b' })).message).toContain('needs { header: true }');
    expect(thrown(() => csvToDataset('1,2\n', { label: 2 })).message).toContain("'options.label'");
    expect(thrown(() => csvToDataset('a,b\n', { header: true })).message).toContain('no data lines');
    expect(thrown(() => csvToDataset('1\n2\n')).message).toContain('at least 2 columns');
    const shape = thrown(() => csvToDataset('1,2,3,0\n', { sampleShape: [2, 2] }));
    expect(shape.code).toBe('DEBORA_SHAPE_MISMATCH');
  });

  test('readCsvDataset reads gzip and plain files and names the file in errors', () => {
    const plain = path.join(dir, 'p.csv');
    const gz = path.join(dir, 'g.csv.gz');
    fs.writeFileSync(plain, '1,2,1\n3,4,0\n');
    fs.writeFileSync(gz, gzipSync('1,2,1\n3,4,0\n'));
    for (const f of [plain, gz]) {
      const ds = readCsvDataset(f);
      expect(Array.from(ds.x)).toEqual([1, 2, 3, 4]);
      expect(Array.from(ds.y)).toEqual([1, 0]);
    }
    expect(readCsvDataset(gz).name).toBe('g.csv');
    fs.writeFileSync(plain, '1,2,1\n3,four,0\n');
    expect(thrown(() => readCsvDataset(plain)).message).toBe(
      `readCsvDataset: malformed CSV '${plain}': expected a number in column 2 on line 2, received 'four'`,
    );
    expect(thrown(() => readCsvDataset(path.join(dir, 'none.csv'))).message).toContain('(ENOENT)');
  });
});

describe('loadUciDigits (vendored data/uci-digits)', () => {
  test('1,797 8×8 images of counts 0..16 with the known class counts', () => {
    expect(fs.statSync(uciDigitsPath()).size).toBe(57512);
    const ds = loadUciDigits();
    expect(ds.n).toBe(1797);
    expect(ds.name).toBe('uci-digits');
    expect(ds.sampleShape).toEqual([1, 8, 8]);
    expect(ds.numClasses).toBe(10);
    expect(Array.from(classCounts(ds))).toEqual([178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
    // The first row of the file is a 0.
    expect(Array.from(ds.x.subarray(0, 16))).toEqual([0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0]);
    expect(ds.y[0]).toBe(0);
    let max = 0;
    let notCounts = 0;
    for (let i = 0; i < ds.x.length; i++) {
      const v = ds.x[i]!;
      if (!(Number.isInteger(v) && v >= 0)) notCounts++;
      if (v > max) max = v;
    }
    expect(notCounts).toBe(0);
    expect(max).toBe(16);
    const scaled = loadUciDigits({ scale: true });
    expect(scaled.x[3]).toBe(Math.fround(13 / 16));
    expect(Array.from(scaled.y)).toEqual(Array.from(ds.y));
  });

  test('a file in the same format can be given, and bad pixel values are refused', () => {
    const good = path.join(dir, 'optdigits.tra');
    fs.writeFileSync(good, `${new Array(64).fill(3).join(',')},7\n`);
    const one = loadUciDigits({ path: good });
    expect(one.n).toBe(1);
    expect(one.y[0]).toBe(7);
    const bad = path.join(dir, 'bad.tra');
    fs.writeFileSync(bad, `${[...new Array(63).fill(0), 17].join(',')},1\n`);
    expect(thrown(() => loadUciDigits({ path: bad })).message).toBe(
      `loadUciDigits: malformed file '${bad}': expected pixel counts 0..16, received 17 in feature 63 of sample 0`,
    );
    expect(thrown(() => loadUciDigits({ path: good.replace('.tra', '.nope') })).code).toBe('DEBORA_INVALID_ARG');
  });
});
