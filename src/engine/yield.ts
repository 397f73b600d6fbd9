/**
 * Giving the event loop a turn. TensorFlow.js on wasm/cpu computes synchronously and `await t.data()`
 * resolves as a microtask, so a loop of steps never lets timers, signal handlers (Ctrl-C), I/O or an
 * `AbortSignal.timeout` run. Every long loop awaits `yieldToEventLoop()` (or `yieldAndCheck`, which also checks an AbortSignal) once
 * per step or batch: `setImmediate` runs after pending I/O callbacks, and the timers phase comes in
 * the same loop iteration, so one step is the longest anything else waits.
 */
import { throwIfAborted } from '../errors.js';

/** Resolves on the next turn of the event loop (after timers and I/O callbacks due now have run). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Yields, then throws `AbortError` if `signal` fired meanwhile (`what` names the call in the message).
 * Call between units of work, at a point where every tensor of the step is freed or owned by a
 * `try`/`finally`.
 */
export async function yieldAndCheck(signal: AbortSignal | undefined, what: string): Promise<void> {
  await yieldToEventLoop();
  throwIfAborted(signal, what);
}

/**
 * For tight loops of small units (texts to tokenize, rows to judge), where a turn per unit would cost
 * more than the work: the returned function yields and checks `signal` only once `intervalMs` have
 * passed since its last turn.
 */
export function yieldEvery(intervalMs: number, signal: AbortSignal | undefined, what: string): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last < intervalMs) return;
    await yieldAndCheck(signal, what);
    last = performance.now();
  };
}
