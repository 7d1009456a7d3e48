/**
 * loader.test.ts — a missing or broken addon gives one clear error: what was tried, how to
 * rebuild (including npm 11's install-script approval), with code DEBORA_ADDON_LOAD_FAILED.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Native from '../../lib/native';

/** Loads lib/native afresh and calls addon() with $DEBORA_ADDON_PATH pointing at `addonPath`. */
function loadError(addonPath: string): { code?: string; message: string } {
  const saved = process.env.DEBORA_ADDON_PATH;
  process.env.DEBORA_ADDON_PATH = addonPath;
  try {
    let native: typeof Native | undefined;
    jest.isolateModules(() => {
      native = require('../../lib/native');
    });
    (native as typeof Native).addon();
  } catch (e) {
    return e as { code?: string; message: string };
  } finally {
    if (saved === undefined) delete process.env.DEBORA_ADDON_PATH;
    else process.env.DEBORA_ADDON_PATH = saved;
  }
  throw new Error('expected the load to fail');
}

test('a missing addon lists the paths tried and how to rebuild', () => {
  const missing = path.join(os.tmpdir(), 'debora-does-not-exist', 'debora.node');
  const e = loadError(missing);
  expect(e.code).toBe('DEBORA_ADDON_LOAD_FAILED');
  expect(e.message).toContain('the debora native addon is not built');
  expect(e.message).toContain(missing);
  expect(e.message).toContain('npm run build:native');
  expect(e.message).toContain('npm install-scripts approve debora');
});

test('a file that is not a valid addon is reported as broken, with the loader message', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'debora-loader-'));
  const bogus = path.join(dir, 'debora.node');
  fs.writeFileSync(bogus, 'not an ELF file');
  const e = loadError(bogus);
  expect(e.code).toBe('DEBORA_ADDON_LOAD_FAILED');
  expect(e.message).toContain(`the debora native addon at ${bogus} exists but failed to load`);
  expect(e.message).toMatch(/invalid ELF header|file too short|not a valid/i);
  fs.rmSync(dir, { recursive: true });
});

test('the default search order is the cmake-js build, then the node-gyp build', () => {
  const saved = process.env.DEBORA_ADDON_PATH;
  delete process.env.DEBORA_ADDON_PATH;
  try {
    const c = require('../../lib/native').addonCandidates() as string[];
    expect(c[0]).toMatch(/build-cmake[/\\]Release[/\\]debora\.node$/);
    expect(c.some((p) => /[/\\]build[/\\]Release[/\\]debora\.node$/.test(p))).toBe(true);
  } finally {
    if (saved !== undefined) process.env.DEBORA_ADDON_PATH = saved;
  }
});
