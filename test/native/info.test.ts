/**
 * info.test.ts — the addon loads and info() reports version, backends, SIMD level, threads and
 * CUDA availability (or the exact reason not) consistently with the machine.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatInfo, info } from '../../lib';

const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8'));

test('info() reports the package version, a real addon path and the build tool', () => {
  const i = info();
  expect(i.version).toBe(pkg.version);
  expect(fs.existsSync(i.build.addonPath)).toBe(true);
  expect(['cmake-js', 'node-gyp']).toContain(i.build.tool);
  expect(i.node).toBe(process.version);
});

test('cpu: SIMD level matches /proc/cpuinfo and threads default to the core count', () => {
  const i = info();
  expect(['avx512', 'avx2', 'scalar']).toContain(i.cpu.simd);
  if (fs.existsSync('/proc/cpuinfo')) {
    const flags = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const expected =
      /\bavx512f\b/.test(flags) && /\bavx512bw\b/.test(flags) ? 'avx512' : /\bavx2\b/.test(flags) ? 'avx2' : 'scalar';
    expect(i.cpu.simdSupported).toBe(expected);
  }
  expect(i.cpu.hardwareThreads).toBe(os.availableParallelism());
  const envThreads = process.env.DEBORA_NUM_THREADS;
  expect(i.cpu.threads).toBe(envThreads ? Number(envThreads) : os.availableParallelism());
});

test('cuda: either available with devices, or unavailable with a reason and no devices', () => {
  const c = info().cuda;
  if (c.available) {
    expect(c.devices.length).toBeGreaterThan(0);
    for (const d of c.devices) {
      expect(d.name.length).toBeGreaterThan(0);
      expect(d.totalMemoryBytes).toBeGreaterThan(0);
      expect(d.computeCapability).toMatch(/^\d+\.\d+$/);
    }
    expect(info().backends).toEqual(['cpu', 'cuda']);
  } else {
    expect(c.devices).toEqual([]);
    expect(c.reason).toBeTruthy();
    expect(c.reason).not.toMatch(/undefined/);
    expect(info().backends).toEqual(['cpu']);
  }
});

test('cuda: on a machine without a driver the reason says so (this CI machine has none)', () => {
  const hasDriver = ['/proc/driver/nvidia/version', '/dev/nvidiactl'].some((p) => fs.existsSync(p));
  const c = info().cuda;
  if (!hasDriver) {
    expect(c.available).toBe(false);
    expect(c.reason).toMatch(c.compiled ? /driver|device/i : /no CUDA support/);
  } else {
    expect(typeof c.available).toBe('boolean');
  }
});

test('formatInfo prints one line per topic', () => {
  const text = formatInfo(info());
  expect(text).toMatch(/^debora \d+\.\d+\.\d+/);
  expect(text).toMatch(/\ncpu: +simd (avx512|avx2|scalar)/);
  expect(text).toMatch(/\ncuda: +(available|unavailable)/);
});
