/**
 * event_loop.ts — how many turns the Node event loop makes while a piece of work runs, for the async-op
 * tests: a setImmediate callback that re-arms itself counts one per turn. A synchronous native call holds the
 * JS thread, so none can run during it (0, exactly); an async variant that leaves the loop free lets them run
 * while its worker thread computes (≥ 1 for any op that lasts longer than a loop turn, which is microseconds).
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
