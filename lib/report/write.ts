/**
 * write.ts — writeReport: reads a run directory, renders the plots and the HTML page, and writes
 * report.html and plots/<name>.svg into it, each through a temporary file and a rename, so a
 * reader (a browser refreshing, CI collecting artifacts) never sees half a file. What
 * `debora report <run-dir>` runs. Tested in test/unit/report.test.ts and
 * test/e2e/report-chromium.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeAtomic } from '../data/files';
import { DeboraError } from '../errors';
import { type RenderOptions, renderReport } from './html';
import { PLOT_NAMES, plotDefs, renderSpec } from './plots';
import { readRunDir } from './read';

const WHERE = 'writeReport';

/** File names of the report inside the run directory. */
export const REPORT_FILES = { html: 'report.html', plots: 'plots' } as const;

/** What writeReport wrote. */
export interface WrittenReport {
  /** Path of report.html. */
  html: string;
  /** Paths of the SVG files written (plots without data have none). */
  plots: string[];
  /** Warnings vega-lite or vega gave while rendering (empty when all went well). */
  warnings: string[];
}

/**
 * Builds the report of the run directory `dir` and writes it there: `report.html` (self-contained)
 * and `plots/<name>.svg`. SVGs left by an earlier report for plots that now have no data are
 * removed, so the folder matches the page. Throws (writing nothing) when the directory is not a
 * valid run directory; see readRunDir.
 */
export async function writeReport(dir: string, options: RenderOptions = {}): Promise<WrittenReport> {
  const data = readRunDir(dir);
  const defs = plotDefs(data);
  const svgs: Record<string, string> = {};
  const warnings: string[] = [];
  for (const def of defs) {
    if (def.spec === null) continue;
    try {
      const r = await renderSpec(def.spec, `plot-${def.name}`);
      svgs[def.name] = r.svg;
      warnings.push(...r.warnings.map((w) => `${def.name}: ${w}`));
    } catch (e) {
      throw new DeboraError(
        `${WHERE}: rendering plot '${def.name}' of '${dir}' failed (${(e as Error).message}). This is a bug in debora's report: please report it with the run directory`,
        'DEBORA_INTERNAL',
      );
    }
  }
  const html = renderReport(data, defs, svgs, options);

  const plotDir = path.join(dir, REPORT_FILES.plots);
  try {
    fs.mkdirSync(plotDir, { recursive: true });
  } catch (e) {
    throw new DeboraError(
      `${WHERE}: cannot create folder '${plotDir}' (${(e as NodeJS.ErrnoException).code ?? 'error'}). Fix: make the run directory writable`,
      'DEBORA_INVALID_ARG',
    );
  }
  const written: string[] = [];
  for (const name of PLOT_NAMES) {
    const file = path.join(plotDir, `${name}.svg`);
    const svg = svgs[name];
    if (svg === undefined) fs.rmSync(file, { force: true });
    else {
      writeAtomic(WHERE, file, Buffer.from(svg, 'utf8'), false);
      written.push(file);
    }
  }
  const htmlFile = path.join(dir, REPORT_FILES.html);
  writeAtomic(WHERE, htmlFile, Buffer.from(html, 'utf8'), false);
  return { html: htmlFile, plots: written, warnings };
}
