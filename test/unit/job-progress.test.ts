/**
 * job-progress.test.ts — the progress output: a bar redrawn in place (throttled) on a terminal,
 * plain lines at 25% steps elsewhere, and summaries that clear the bar first.
 */
import { createProgress } from '../../lib/job/progress';

function sink(tty: boolean) {
  const chunks: string[] = [];
  return { chunks, write: (c: string) => chunks.push(c), isTTY: tty, columns: 200 };
}

test('off a terminal: one plain line per quarter of the run, no carriage returns', () => {
  let t = 0;
  const s = sink(false);
  const p = createProgress(s, { now: () => t });
  p.start('mlp/debora/seed0', 8);
  for (let k = 1; k <= 8; k++) {
    t += 1000;
    p.update(k, `loss ${(1 / k).toFixed(2)}`);
  }
  p.end('done: 91.0%');
  const text = s.chunks.join('');
  expect(text).not.toContain('\r');
  expect(text.split('\n').filter(Boolean)).toEqual([
    'mlp/debora/seed0: step 2/8 loss 0.50 (2s)',
    'mlp/debora/seed0: step 4/8 loss 0.25 (4s)',
    'mlp/debora/seed0: step 6/8 loss 0.17 (6s)',
    'mlp/debora/seed0: step 8/8 loss 0.13 (8s)',
    'done: 91.0%',
  ]);
});

test('a run shorter than four steps still reports every quarter it crosses once', () => {
  const s = sink(false);
  const p = createProgress(s, { now: () => 0 });
  p.start('r', 3);
  for (let k = 1; k <= 3; k++) p.update(k, '');
  expect(s.chunks.filter((c) => c.includes('step'))).toHaveLength(3);
});

test('on a terminal: a bar redrawn in place at most every 100 ms, always at the end, cleared before a summary', () => {
  let t = 0;
  const s = sink(true);
  const p = createProgress(s, { now: () => t });
  p.start('cnn/lora-r4/seed1', 100);
  for (let k = 1; k <= 100; k++) {
    t += 10; // 10 ms per step: ~one redraw every 10 steps
    p.update(k, 'loss 0.1');
  }
  const redraws = s.chunks.filter((c) => c.startsWith('\r\x1b[2K') && c.includes('/100'));
  expect(redraws.length).toBeGreaterThanOrEqual(9);
  expect(redraws.length).toBeLessThanOrEqual(12);
  expect(redraws.at(-1)).toContain('[########################] 100/100 loss 0.1 1s eta 0s');
  p.end('summary');
  expect(s.chunks.slice(-2)).toEqual(['\r\x1b[2K', 'summary\n']);
});
