/**
 * report-chromium.test.ts — the run report as a browser shows it: writeReport on a synthetic
 * interrupted run, then headless Chromium loads report.html from disk (--dump-dom: the page
 * parses, with its tables and five inline SVGs) and screenshots it (the banner and plot lines are
 * really painted). Without Chromium the tests are skipped with the reason in their titles; with
 * DEBORA_REQUIRE_CHROMIUM=1 (CI installs it) a missing Chromium fails instead.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inflateSync } from 'node:zlib';
import { PLOT_NAMES, writeReport } from '../../lib/report';
import { makeRunDir } from '../fixtures/report/make-run';

/** The Chromium binary: $CHROMIUM_PATH, else the usual names on $PATH. */
function findChromium(): string | null {
  const env = process.env.CHROMIUM_PATH;
  if (env) return fs.existsSync(env) ? env : null;
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    for (const d of dirs) {
      const p = path.join(d, name);
      if (fs.existsSync(p)) return p;
    }
  }
  return null;
}

const chromium = findChromium();
const required = process.env.DEBORA_REQUIRE_CHROMIUM === '1';
const maybe = chromium !== null || required ? test : test.skip;
const why = chromium === null && !required ? ' (skipped: chromium not installed; `apt-get install -y chromium`)' : '';
if (chromium === null && !required) process.stderr.write(`test/e2e/report-chromium: skipped: chromium not installed\n`);

// Module-scope binding: a global lookup in a hot loop is ~100× slower inside jest's vm context
// (jestjs/jest#15502), and these loops touch every pixel.
const { abs } = Math;

const WIDTH = 1280;
const HEIGHT = 4000;

let tmp: string;
let report: string;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'debora-report-chromium-'));
  if (chromium === null) return;
  const made = makeRunDir(path.join(tmp, 'run'), { steps: 150, interrupted: true });
  report = (await writeReport(made.dir)).html;
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function runChromium(...args: string[]): { stdout: string; stderr: string } {
  if (chromium === null) throw new Error('chromium not installed, and DEBORA_REQUIRE_CHROMIUM=1 asks for it');
  const r = spawnSync(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--no-default-browser-check',
      '--hide-scrollbars',
      `--user-data-dir=${path.join(tmp, 'profile')}`,
      ...args,
    ],
    { encoding: 'utf8', timeout: 30000, maxBuffer: 64 << 20 },
  );
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`chromium exited with ${r.status}: ${r.stderr.slice(-2000)}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/** Decodes an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes) to RGBA pixels. */
function decodePng(buf: Buffer): { width: number; height: number; rgba: Uint8Array } {
  expect(buf.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colour, , , interlace] = [data[8], data[9], data[10], data[11], data[12]];
      if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) {
        throw new Error(`unexpected PNG format: depth ${depth}, colour type ${colour}, interlace ${interlace}`);
      }
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x] as number;
      const a = x >= channels ? (px[y * stride + x - channels] as number) : 0;
      const b = y > 0 ? (px[(y - 1) * stride + x] as number) : 0;
      const c = x >= channels && y > 0 ? (px[(y - 1) * stride + x - channels] as number) : 0;
      let p: number;
      if (filter === 0) p = 0;
      else if (filter === 1) p = a;
      else if (filter === 2) p = b;
      else if (filter === 3) p = (a + b) >> 1;
      else {
        const q = a + b - c;
        const pa = abs(q - a);
        const pb = abs(q - b);
        const pc = abs(q - c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      px[y * stride + x] = (v + p) & 255;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    for (let k = 0; k < 3; k++) rgba[4 * i + k] = px[channels * i + k] as number;
    rgba[4 * i + 3] = channels === 4 ? (px[channels * i + 3] as number) : 255;
  }
  return { width, height, rgba };
}

/** Pixels within `tol` (per channel) of the colour `hex`. */
function countColour(rgba: Uint8Array, hex: string, tol: number): number {
  const r = Number.parseInt(hex.slice(1, 3), 16);
  const g = Number.parseInt(hex.slice(3, 5), 16);
  const b = Number.parseInt(hex.slice(5, 7), 16);
  let n = 0;
  for (let i = 0; i < rgba.length; i += 4) {
    if (
      abs((rgba[i] as number) - r) <= tol &&
      abs((rgba[i + 1] as number) - g) <= tol &&
      abs((rgba[i + 2] as number) - b) <= tol
    )
      n++;
  }
  return n;
}

maybe(`Chromium loads report.html: banner, tables and every plot's SVG are in the DOM${why}`, () => {
  const { stdout } = runChromium('--dump-dom', `file://${report}`);
  const source = fs.readFileSync(report, 'utf8');
  expect(stdout).toMatch(/^(<!DOCTYPE html>\s*)?<html lang="en">/);
  expect(stdout.trimEnd()).toMatch(/<\/html>$/);
  expect(stdout).toContain('<title>debora run report: run</title>');
  expect(stdout).toMatch(/data-status="interrupted"><strong>Interrupted\.<\/strong>/);
  expect((stdout.match(/<svg /g) ?? []).length).toBe(PLOT_NAMES.length);
  for (const name of PLOT_NAMES) expect(stdout).toMatch(new RegExp(`<figure id="plot-${name}" class="plot"><h3>`));
  expect((stdout.match(/<tr class="(completed|interrupted)">/g) ?? []).length).toBe(11);
  expect(stdout).toContain('id="summary-table"');
  // The browser kept every mark: as many paths in its DOM as in the file (nothing dropped as
  // malformed markup).
  expect((stdout.match(/<path /g) ?? []).length).toBe((source.match(/<path /g) ?? []).length);
  expect(stdout).not.toContain('parsererror');
});

maybe(`Chromium paints the page: banner colour and plot lines are on the screenshot${why}`, () => {
  const shot = path.join(tmp, 'report.png');
  runChromium(`--window-size=${WIDTH},${HEIGHT}`, `--screenshot=${shot}`, `file://${report}`);
  const { width, height, rgba } = decodePng(fs.readFileSync(shot));
  expect([width, height]).toEqual([WIDTH, HEIGHT]);
  const total = width * height;
  const white = countColour(rgba, '#ffffff', 2);
  // Text, tables and plots: a blank or error page is almost all white.
  expect(total - white).toBeGreaterThan(0.05 * total);
  expect(countColour(rgba, '#fdecea', 2)).toBeGreaterThan(10000); // the 'interrupted' banner
  // Method colours (tableau10 blue, orange, red) drawn by the SVG plots.
  for (const c of ['#4c78a8', '#f58518', '#e45756']) {
    expect({ colour: c, painted: countColour(rgba, c, 24) > 500 }).toEqual({ colour: c, painted: true });
  }
});
