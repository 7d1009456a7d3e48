#!/usr/bin/env node
// build-native.js — builds the addon at install time (the package's "install" script) and on
// demand (npm run build:native). cmake-js is the canonical build, into build-cmake/ (node-gyp
// owns build/ and deletes it on rebuild, so the two never share a folder). When CMake is not
// installed it falls back to node-gyp and binding.gyp (CPU only) and says so.
// Environment: DEBORA_CUDA=AUTO|ON|OFF (default AUTO), DEBORA_BUILD_TYPE=Release|Debug|RelWithDebInfo,
// DEBORA_SKIP_BUILD=1 to skip (for packaging steps that only need the TypeScript).

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const force = process.argv.includes('--force');

function fail(msg) {
  process.stderr.write(`debora: ${msg}\n`);
  process.exit(1);
}

if (process.env.DEBORA_SKIP_BUILD === '1') {
  process.stdout.write('debora: DEBORA_SKIP_BUILD=1, not building the native addon\n');
  process.exit(0);
}

const cuda = (process.env.DEBORA_CUDA || 'AUTO').toUpperCase();
if (!['AUTO', 'ON', 'OFF'].includes(cuda))
  fail(`DEBORA_CUDA must be AUTO, ON or OFF, received '${process.env.DEBORA_CUDA}'`);
const buildType = process.env.DEBORA_BUILD_TYPE || 'Release';
if (!['Release', 'Debug', 'RelWithDebInfo'].includes(buildType))
  fail(`DEBORA_BUILD_TYPE must be Release, Debug or RelWithDebInfo, received '${buildType}'`);

function have(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

function run(cmd, args) {
  process.stdout.write(`debora: ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error) fail(`could not run ${cmd}: ${r.error.message}`);
  return r.status === 0;
}

if (have('cmake')) {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  const common = ['--out', 'build-cmake', '--config', buildType, `--CDDEBORA_CUDA=${cuda}`];
  // configure every time (cheap when cached) so a changed DEBORA_CUDA or build type takes effect;
  // --force starts from an empty build folder.
  const steps = force
    ? [['rebuild', ...common]]
    : [
        ['configure', ...common],
        ['build', ...common],
      ];
  const jobs = String(Math.max(1, require('node:os').availableParallelism()));
  for (const step of steps) {
    if (!run(process.execPath, [cmakeJs, ...step, '--parallel', jobs])) {
      fail(
        'building the native addon with cmake-js failed (see the output above). Requirements: a C++17 compiler and ' +
          'CMake >= 3.19; for GPU kernels the CUDA toolkit (nvcc). Build without CUDA: DEBORA_CUDA=OFF npm run build:native',
      );
    }
  }
} else {
  if (cuda === 'ON') fail('DEBORA_CUDA=ON needs CMake (the node-gyp fallback builds the CPU kernels only)');
  process.stdout.write('debora: CMake not found; building the CPU-only addon with node-gyp (binding.gyp)\n');
  let gyp = process.env.npm_config_node_gyp;
  if (!gyp) {
    try {
      gyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
    } catch {
      gyp = undefined;
    }
  }
  if (!gyp || !fs.existsSync(gyp))
    fail('neither CMake nor node-gyp is available: install CMake (apt-get install cmake)');
  if (!run(process.execPath, [gyp, 'rebuild'])) fail('building the native addon with node-gyp failed (see above)');
}
