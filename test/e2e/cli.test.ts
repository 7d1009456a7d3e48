/**
 * cli.test.ts — the `debora` command as a user runs it (the compiled dist/cli.js, in a child
 * process): info in text and JSON, --help, --version, and exit codes for usage errors.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');
const cli = path.join(root, 'dist', 'cli.js');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

function debora(...args: string[]) {
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build:ts\` (npm ci does it)`);
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('debora info prints a readable report', () => {
  const r = debora('info');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(`debora ${pkg.version}`);
  expect(r.stdout).toMatch(/cpu: +simd (avx512|avx2|scalar)/);
  expect(r.stdout).toMatch(/cuda: +(available|unavailable)/);
});

test('debora info --json prints the info() object', () => {
  const r = debora('info', '--json');
  expect(r.code).toBe(0);
  const i = JSON.parse(r.stdout);
  expect(i.version).toBe(pkg.version);
  expect(i.backends).toContain('cpu');
  expect(typeof i.cuda.available).toBe('boolean');
  if (!i.cuda.available) expect(i.cuda.reason.length).toBeGreaterThan(0);
});

test('--help and --version', () => {
  expect(debora('--help').stdout).toMatch(/^Usage: debora <command>/);
  expect(debora('info', '--help').stdout).toMatch(/^Usage: debora info \[--json\]/);
  const v = debora('--version');
  expect(v.code).toBe(0);
  expect(v.stdout.trim()).toBe(pkg.version);
});

test('usage errors go to stderr with exit code 2', () => {
  const unknown = debora('frobnicate');
  expect(unknown.code).toBe(2);
  expect(unknown.stdout).toBe('');
  expect(unknown.stderr).toContain("debora: unknown command 'frobnicate'");
  const badFlag = debora('info', '--jsno');
  expect(badFlag.code).toBe(2);
  expect(badFlag.stderr).toContain("Unknown option '--jsno'");
  expect(debora().code).toBe(2);
});

test('a missing addon is exit code 1 with the loader message on stderr', () => {
  const r = spawnSync(process.execPath, [cli, 'info'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, DEBORA_ADDON_PATH: path.join(root, 'no-such-dir', 'debora.node') },
  });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('the debora native addon is not built');
  expect(r.stderr).toContain('[DEBORA_ADDON_LOAD_FAILED]');
});
