/**
 * runtime.test.ts — thread pool size and SIMD level settings: applied, validated, restorable.
 * (The pool's own correctness — coverage, nesting, concurrency, exceptions — is in the C++
 * driver, run by driver.test.ts under ASan and TSan.)
 */
import { getNumThreads, info, isDeboraError, setNumThreads, setSimd } from '../../lib';

test('setNumThreads resizes the shared pool and can be restored', () => {
  const before = getNumThreads();
  setNumThreads(3);
  expect(getNumThreads()).toBe(3);
  expect(info().cpu.threads).toBe(3);
  setNumThreads(1);
  expect(getNumThreads()).toBe(1);
  setNumThreads(before);
  expect(getNumThreads()).toBe(before);
});

test('setSimd lowers the code path; asking for more than the CPU has is refused', () => {
  const best = info().cpu.simdSupported;
  setSimd('scalar');
  expect(info().cpu.simd).toBe('scalar');
  setSimd(best);
  expect(info().cpu.simd).toBe(best);
  if (best !== 'avx512') {
    let code: string | undefined;
    try {
      setSimd('avx512');
    } catch (e) {
      if (isDeboraError(e)) code = e.code;
    }
    expect(code).toBe('DEBORA_BACKEND_UNAVAILABLE');
    expect(info().cpu.simd).toBe(best);
  }
  let bad: unknown;
  try {
    setSimd('sse9' as never);
  } catch (e) {
    bad = e;
  }
  expect(isDeboraError(bad) && bad.message).toBe(
    "setSimd: expected one of 'scalar', 'avx2', 'avx512' for argument 'level', received 'sse9'",
  );
});
