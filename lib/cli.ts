#!/usr/bin/env node
/**
 * cli.ts — the `debora` command. Commands: `info` (what this installation can do) and `demo` (the
 * default job: a small real transfer run comparing dEBORA with LoRA and full fine-tuning). Later
 * issues add train, report and export. Conventions: --help everywhere, data with --json on
 * stdout, errors on stderr, exit 0 ok / 1 failure / 2 usage error. Tested in test/e2e/cli.test.ts.
 */
import { parseArgs } from 'node:util';
import { formatDemo, runDemo } from './demo';
import { isDeboraError } from './errors';
import { formatInfo, info } from './info';
import { packageVersion } from './native';

const USAGE = `Usage: debora <command> [options]

Rank-adaptive low-rank fine-tuning (dEBORA) for Node.js.

Commands:
  info      Report version, backends, CPU SIMD level and threads, CUDA status
  demo      Run the default job: MNIST 8×8 → UCI digits, dEBORA vs LoRA vs head vs full

Options:
  -h, --help     Show help (also: debora <command> --help)
  -v, --version  Print the version

Environment:
  DEBORA_BACKEND=auto|cpu|cuda   default backend (auto: CUDA if usable, else CPU)
  DEBORA_NUM_THREADS=N           CPU thread pool size (default: number of cores)
  DEBORA_SIMD=scalar|avx2|avx512 cap the CPU SIMD code path
`;

const INFO_USAGE = `Usage: debora info [--json]

Reports the debora version, the available backends, the CPU SIMD level and thread count, and
whether CUDA is usable (device name, memory, compute capability) or exactly why not.

Options:
  --json      Print the report as JSON on stdout
  -h, --help  Show this help
`;

const DEMO_USAGE = `Usage: debora demo [--steps N] [--seed S] [--json]

Adapts an MLP pretrained on MNIST digits (downsampled to 8×8, shipped with the package) to the
UCI handwritten digits with 20 labels per class, scoring on the other 1,597 images: dEBORA
(rank-adaptive CP adapters, initial rank 8), LoRA at ranks 2 and 8, head only and full
fine-tuning, on the same data, seed and gradient budget. A few seconds on 2 cores.

Options:
  --steps N   outer steps per run (default 100)
  --seed S    seed of the label draw, batches and initialisation (default 0)
  --json      print the results as JSON on stdout (progress goes to stderr)
  -h, --help  Show this help
`;

class UsageError extends Error {}

function cmdDemo(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      steps: { type: 'string', default: '100' },
      seed: { type: 'string', default: '0' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(DEMO_USAGE);
    return 0;
  }
  const steps = Number(values.steps);
  const seed = Number(values.seed);
  if (!Number.isInteger(steps) || steps < 1)
    throw new UsageError(`--steps expects an integer >= 1, received '${values.steps}'`);
  if (!Number.isInteger(seed) || seed < 0)
    throw new UsageError(`--seed expects an integer >= 0, received '${values.seed}'`);
  const out = values.json ? process.stderr : process.stdout;
  const { zeroShot, results } = runDemo({ steps, seed, log: (l) => out.write(`${l}\n`) });
  if (values.json) process.stdout.write(`${JSON.stringify({ zeroShot, results }, null, 2)}\n`);
  else process.stdout.write(`\n${formatDemo(results)}\n`);
  return 0;
}

function cmdInfo(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(INFO_USAGE);
    return 0;
  }
  const i = info();
  process.stdout.write(values.json ? `${JSON.stringify(i, null, 2)}\n` : `${formatInfo(i)}\n`);
  return 0;
}

/** Runs the CLI on argv (without node and script) and returns the exit code. */
export function main(argv: string[]): number {
  try {
    const [cmd, ...rest] = argv;
    if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    }
    if (cmd === '-v' || cmd === '--version') {
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    }
    if (cmd === 'info') return cmdInfo(rest);
    if (cmd === 'demo') return cmdDemo(rest);
    throw new UsageError(`unknown command '${cmd}'`);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`debora: ${(e as Error).message}\nRun 'debora --help' for usage.\n`);
      return 2;
    }
    if (isDeboraError(e)) {
      process.stderr.write(`debora: ${e.message} [${e.code}]\n`);
      return 1;
    }
    throw e;
  }
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
