/**
 * table.ts — the plain-text results table printed at the end of a job: one row per run, then the
 * mean ± standard deviation over seeds when there are several. Tested in test/e2e/job.test.ts.
 */
import type { ResultRow } from '../report/types';

function grid(rows: string[][]): string {
  const w = rows[0]?.map((_, j) => Math.max(...rows.map((r) => (r[j] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((v, j) => v.padEnd(w[j] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const pct = (a: number): string => `${(100 * a).toFixed(1)}%`;

/** The results as text: per run, and per (model, method) over seeds when there are several seeds. */
export function formatResults(rows: readonly ResultRow[]): string {
  const table = [['model', 'method', 'seed', 'held-out acc', 'adapter params', 'final ranks', 'wall s']];
  for (const r of rows) {
    const ranks = Object.entries(r.ranks);
    table.push([
      r.model,
      r.method + (r.status === 'interrupted' ? ' (interrupted)' : ''),
      String(r.seed),
      pct(r.heldOutAccuracy),
      String(r.adapterParams),
      ranks.length ? ranks.map(([k, v]) => `${k}:${v}`).join(' ') : '—',
      r.wallSeconds.toFixed(1),
    ]);
  }
  let out = grid(table);
  const seeds = new Set(rows.map((r) => r.seed));
  if (seeds.size > 1) {
    const groups = new Map<string, ResultRow[]>();
    for (const r of rows) {
      const k = `${r.model}\u0000${r.method}`;
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    const summary = [['model', 'method', 'seeds', 'held-out acc (mean ± sd)', 'adapter params (mean)']];
    for (const g of groups.values()) {
      const acc = g.map((r) => 100 * r.heldOutAccuracy);
      const m = acc.reduce((a, b) => a + b, 0) / acc.length;
      const sd = acc.length > 1 ? Math.sqrt(acc.reduce((a, b) => a + (b - m) ** 2, 0) / (acc.length - 1)) : 0;
      const params = g.reduce((a, r) => a + r.adapterParams, 0) / g.length;
      summary.push([
        (g[0] as ResultRow).model,
        (g[0] as ResultRow).method,
        String(g.length),
        `${m.toFixed(1)} ± ${sd.toFixed(1)}%`,
        params.toFixed(0),
      ]);
    }
    out += `\n\n${grid(summary)}`;
  }
  return out;
}
