/**
 * progress.ts — progress of a job on a stream: on a terminal one bar per run redrawn in place
 * (at most every 100 ms), elsewhere (CI logs, pipes) plain lines at 25%-steps, so logs stay
 * readable. No dependency: a bar is one line of text. Tested in test/unit/job-progress.test.ts.
 */

/** Where progress goes. */
export interface Progress {
  /** A run starts: `total` outer steps. */
  start(run: string, total: number): void;
  /** After outer step `done` (1-based) of the current run; `detail` is e.g. loss and ranks. */
  update(done: number, detail: string): void;
  /** The run ended; `summary` is its result line. */
  end(summary: string): void;
  /** A line of text between runs. */
  log(line: string): void;
}

/** Minimal writable: a stream, or anything with write(). */
export interface TextSink {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

/** Progress on `sink`: a redrawn bar when `tty` (default: sink.isTTY), plain lines otherwise. */
export function createProgress(sink: TextSink, options: { tty?: boolean; now?: () => number } = {}): Progress {
  const tty = options.tty ?? sink.isTTY === true;
  const now = options.now ?? (() => performance.now());
  let run = '';
  let total = 1;
  let t0 = 0;
  let lastDraw = -Infinity;
  let nextQuarter = 1;
  let drawn = false;
  const bar = (done: number, detail: string): string => {
    const width = 24;
    const filled = Math.round((width * done) / total);
    const elapsed = (now() - t0) / 1000;
    const eta = done > 0 ? (elapsed * (total - done)) / done : Number.NaN;
    const line = `${run} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${detail} ${fmtSeconds(elapsed)} eta ${fmtSeconds(eta)}`;
    const cols = sink.columns ?? 120;
    return line.length >= cols ? line.slice(0, cols - 1) : line;
  };
  const clear = () => {
    if (tty && drawn) sink.write('\r\x1b[2K');
    drawn = false;
  };
  return {
    start(name, steps) {
      run = name;
      total = Math.max(1, steps);
      t0 = now();
      lastDraw = -Infinity;
      nextQuarter = 1;
      if (tty) {
        sink.write(bar(0, ''));
        drawn = true;
      }
    },
    update(done, detail) {
      if (tty) {
        const t = now();
        if (t - lastDraw < 100 && done < total) return;
        lastDraw = t;
        sink.write(`\r\x1b[2K${bar(done, detail)}`);
        drawn = true;
        return;
      }
      if (done * 4 >= nextQuarter * total) {
        while (done * 4 >= nextQuarter * total) nextQuarter++;
        sink.write(`${run}: step ${done}/${total} ${detail} (${fmtSeconds((now() - t0) / 1000)})\n`);
      }
    },
    end(summary) {
      clear();
      sink.write(`${summary}\n`);
    },
    log(line) {
      clear();
      sink.write(`${line}\n`);
    },
  };
}
