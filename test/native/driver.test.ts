/**
 * driver.test.ts — builds native/ on its own with plain CMake (no Node headers, as on the GPU
 * machines) under AddressSanitizer+UBSan and under ThreadSanitizer, runs the C++ driver
 * (test/native/driver.cpp) and reports each of its cases as a jest test. Any sanitizer report
 * fails the run. Build folders: build-native-asan/, build-native-tsan/ (incremental).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');

interface DriverRun {
  ok: boolean;
  log: string;
  cases: [string, boolean, string][];
}

function buildAndRun(sanitizer: 'address' | 'thread'): DriverRun {
  const dir = path.join(root, `build-native-${sanitizer === 'address' ? 'asan' : 'tsan'}`);
  const steps: [string, string[]][] = [
    [
      'cmake',
      [
        '-S',
        'native',
        '-B',
        dir,
        '-DDEBORA_CUDA=OFF',
        '-DDEBORA_BUILD_TESTS=ON',
        `-DDEBORA_SANITIZE=${sanitizer}`,
        '-DCMAKE_BUILD_TYPE=RelWithDebInfo',
      ],
    ],
    ['cmake', ['--build', dir, '--parallel', '2']],
  ];
  let log = '';
  for (const [cmd, args] of steps) {
    const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
    log += `$ ${cmd} ${args.join(' ')}\n${r.stdout}${r.stderr}`;
    if (r.status !== 0) return { ok: false, log, cases: [] };
  }
  const env = { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', TSAN_OPTIONS: 'halt_on_error=1' };
  const run = spawnSync(path.join(dir, 'debora_driver'), [], { cwd: root, encoding: 'utf8', env, timeout: 120000 });
  log += `$ debora_driver\n${run.stdout}${run.stderr}`;
  const cases = (run.stdout ?? '')
    .split('\n')
    .map((l) => /^(PASS|FAIL) ([^:]+)(?:: (.*))?$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[2] as string, m[1] === 'PASS', m[3] ?? ''] as [string, boolean, string]);
  const sanitizerReport = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer/.test(
    run.stderr ?? '',
  );
  return { ok: run.status === 0 && !sanitizerReport && cases.length > 0, log, cases };
}

for (const sanitizer of ['address', 'thread'] as const) {
  describe(`C++ driver under ${sanitizer} sanitizer`, () => {
    const result = buildAndRun(sanitizer);
    test('builds standalone, runs clean (exit 0, no sanitizer report)', () => {
      if (!result.ok) throw new Error(result.log.slice(-6000));
    });
    if (result.cases.length > 0) {
      test.each(result.cases)('%s', (_name, passed, detail) => {
        if (!passed) throw new Error(detail || 'failed');
      });
    }
  });
}
