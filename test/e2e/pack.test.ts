/**
 * pack.test.ts — debora installs as a real package: `npm pack`, then `npm install <tarball>` in
 * an empty project (which compiles the addon through the install script), then
 * `require('debora').info()` and `npx debora info` work there. npm >= 11 runs a dependency's
 * install script only when the project approves it (allowScripts), as the README says.
 * Slow (~30 s: a full native build); it is the proof that a user's install works.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');

test('npm pack + npm install in an empty project builds the addon and info() works', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'debora-pack-'));
  try {
    const packOut = execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: root,
      encoding: 'utf8',
    });
    const tarball = path.join(work, (JSON.parse(packOut) as { filename: string }[])[0]?.filename as string);
    const files = (JSON.parse(packOut) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path) ?? [];
    // Compiled JS and every native source ship; tests and build outputs do not.
    expect(files).toEqual(
      expect.arrayContaining(['dist/index.js', 'dist/cli.js', 'native/cpu/status.cpp', 'binding.gyp']),
    );
    expect(files.some((f) => f.startsWith('test/') || f.startsWith('build'))).toBe(false);

    const app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({ name: 'app', version: '1.0.0', private: true, allowScripts: { debora: true } }),
    );
    const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: app, encoding: 'utf8' });
    if (install.status !== 0) throw new Error(`npm install failed:\n${install.stdout}\n${install.stderr}`);

    const probe = spawnSync(
      process.execPath,
      ['-e', "const d = require('debora'); const i = d.info(); console.log(JSON.stringify(i));"],
      { cwd: app, encoding: 'utf8' },
    );
    if (probe.status !== 0) throw new Error(probe.stderr);
    const info = JSON.parse(probe.stdout);
    expect(info.version).toBe(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version);
    expect(info.build.addonPath.startsWith(path.join(app, 'node_modules', 'debora'))).toBe(true);

    const cli = spawnSync('npx', ['--no-install', 'debora', 'info'], { cwd: app, encoding: 'utf8' });
    expect(cli.status).toBe(0);
    expect(cli.stdout).toMatch(/^debora \d+\.\d+\.\d+/);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}, 300000);
