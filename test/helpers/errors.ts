/**
 * errors.ts — test helper: asserts that `fn` throws a DeboraError with the given code and a
 * message matching `text` (the message names the argument and the fix, so tests check it).
 */
export function expectErr(fn: () => unknown, code: string, text: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeDefined();
  expect((err as { name?: string }).name).toBe('DeboraError');
  expect((err as { code?: string }).code).toBe(code);
  expect((err as Error).message).toMatch(text);
}
