/**
 * event_loop.ts — how many turns the Node event loop makes while a piece of work runs, for the async-op tests:
 * a setImmediate callback that re-arms itself counts one per turn.
 * - A synchronous native call holds the JS thread, so none can run during it: 0, exactly. An "async" wrapper that
 *   did its work on the JS thread and returned a settled promise also gives 0 (its awaits resolve as microtasks).
 * - Two async calls awaited one after the other give at least 1 whatever the OS scheduler does: the first one's
 *   completion reaches JS through the loop's poll phase, its continuation starts the second call, and the loop's
 *   check phase then runs the counter while the second is still pending. (One call alone usually gives many
 *   turns, but not always: CI once saw 0, when the JS thread got no core until the work had finished.)
 */
export async function loopTurnsDuring(work: () => unknown): Promise<number> {
  let turns = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    await work();
  } finally {
    running = false;
  }
  return turns;
}
