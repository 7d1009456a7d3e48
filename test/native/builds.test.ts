/**
 * builds.test.ts — the node-gyp fallback build (binding.gyp, CPU only) behaves exactly like the
 * cmake-js build: same version, same op results bit for bit, CUDA reported as not compiled in.
 * .ci/run builds it (npm run build:gyp) and sets DEBORA_REQUIRE_GYP=1 so it cannot be skipped
 * there; elsewhere it is skipped with the reason when build/Release/debora.node is absent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadAddonFrom } from '../../lib/native';
import { uniform } from '../helpers/random';

const root = path.resolve(__dirname, '../..');
const gypAddon = path.join(root, 'build', 'Release', 'debora.node');
const cmakeAddon = path.join(root, 'build-cmake', 'Release', 'debora.node');
const present = fs.existsSync(gypAddon) && fs.existsSync(cmakeAddon);
const required = process.env.DEBORA_REQUIRE_GYP === '1';
const why = present ? '' : ` [SKIPPED: ${gypAddon} not built; run npm run build:gyp]`;
const maybe = present || required ? test : test.skip;

maybe(`the node-gyp addon loads and reports itself${why}`, () => {
  const gyp = loadAddonFrom(gypAddon).nativeInfo();
  const cm = loadAddonFrom(cmakeAddon).nativeInfo();
  expect(gyp.buildTool).toBe('node-gyp');
  expect(cm.buildTool).toBe('cmake-js');
  expect(gyp.version).toBe(cm.version);
  expect(gyp.simdSupported).toBe(cm.simdSupported);
  expect(gyp.cuda.compiled).toBe(false);
  expect(gyp.cuda.available).toBe(false);
  expect(gyp.cuda.reason).toMatch(/no CUDA support/);
});

maybe(`both builds give bitwise identical op results${why}`, () => {
  const r = 1009;
  const ds = uniform(1, r, -2, 2);
  const s = uniform(2, r, 0.01, 3);
  const dots = uniform(3, r, -2, 2);
  const a = loadAddonFrom(gypAddon).cpHypergrad(0, ds, s, dots, new Float32Array(r));
  const b = loadAddonFrom(cmakeAddon).cpHypergrad(0, ds, s, dots, new Float32Array(r));
  expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
});
