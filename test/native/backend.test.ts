/**
 * backend.test.ts — backend choice lives in one place: 'cpu' always works, 'cuda' without a GPU
 * throws DEBORA_BACKEND_UNAVAILABLE with the reason, 'auto' falls back to the CPU and warns once.
 * Each test gets fresh modules so the once-only state starts clean.
 */
import type * as Lib from '../../lib';

/** Fresh modules (so once-only state starts clean); `env` is applied while `fn` runs. */
function withLib<T>(fn: (lib: typeof Lib) => T, env: Record<string, string | undefined> = {}): T {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    let lib: typeof Lib | undefined;
    jest.isolateModules(() => {
      lib = require('../../lib');
    });
    return fn(lib as typeof Lib);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
const freshLib = () => withLib((lib) => lib);

const cudaAvailable = freshLib().info().cuda.available;

test('cpu resolves to cpu', () => {
  const lib = freshLib();
  expect(lib.resolveBackend('cpu')).toBe('cpu');
  expect(lib.setBackend('cpu')).toBe('cpu');
  expect(lib.getBackend()).toBe('cpu');
});

test('cuda without a usable GPU throws DEBORA_BACKEND_UNAVAILABLE naming the reason', () => {
  const lib = freshLib();
  if (cudaAvailable) {
    expect(lib.resolveBackend('cuda')).toBe('cuda');
    return;
  }
  const reason = lib.info().cuda.reason as string;
  for (const call of [() => lib.resolveBackend('cuda'), () => lib.setBackend('cuda')]) {
    let err: unknown;
    try {
      call();
    } catch (e) {
      err = e;
    }
    expect(lib.isDeboraError(err)).toBe(true);
    expect((err as Lib.DeboraError).code).toBe('DEBORA_BACKEND_UNAVAILABLE');
    expect((err as Error).message).toBe(`backend 'cuda' was requested but is unavailable: ${reason}`);
  }
  // A failed setBackend changes nothing.
  expect(lib.getBackend()).toBe('auto');
  // Ops honour it too.
  const x = new Float32Array([1, 2]);
  expect(() => lib.cpHypergrad(x, x, x, { backend: 'cuda' })).toThrow(/unavailable/);
});

test('auto falls back to the CPU and says so exactly once', () => {
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    const [first, second] = withLib((lib) => [lib.resolveBackend(), lib.resolveBackend('auto')], {
      DEBORA_BACKEND: undefined,
    });
    expect(first).toBe(cudaAvailable ? 'cuda' : 'cpu');
    expect(second).toBe(first);
    const fallbacks = spy.mock.calls.filter((c) => String(c[0]).includes('using the CPU backend'));
    expect(fallbacks.length).toBe(cudaAvailable ? 0 : 1);
  } finally {
    spy.mockRestore();
  }
});

test('DEBORA_BACKEND sets the default and is validated', () => {
  expect(withLib((lib) => lib.getBackend(), { DEBORA_BACKEND: 'cpu' })).toBe('cpu');
  expect(() => withLib((lib) => lib.getBackend(), { DEBORA_BACKEND: 'tpu' })).toThrow(
    "DEBORA_BACKEND: expected one of 'auto', 'cpu', 'cuda' for argument 'DEBORA_BACKEND', received 'tpu'",
  );
  expect(() => freshLib().setBackend('gpu' as never)).toThrow(/argument 'name', received 'gpu'/);
});

test("'auto' runs ops without a CUDA kernel on the CPU even where CUDA is usable", () => {
  const lib = freshLib();
  expect(lib.resolveBackend('auto', false)).toBe('cpu');
  expect(lib.resolveBackend('cpu', false)).toBe('cpu');
  // an explicit 'cuda' is passed through (the binding then refuses it by op name) or refused as unavailable
  if (cudaAvailable) expect(lib.resolveBackend('cuda', false)).toBe('cuda');
  else expect(() => lib.resolveBackend('cuda', false)).toThrow(/unavailable/);
});
