/**
 * Turns a callback-driven generation into an async iterator: `for await (const token of stream) …`,
 * with the final result returned when the iterator completes. Errors (including AbortError) surface
 * from the iterator. A consumer that stops early (`break`, `return()`, a throw in its loop body) aborts
 * the generation through the signal handed to `run`, and the iterator's cleanup waits for it to free
 * its tensors, so leaving the loop leaves no work running.
 */
export function streamOf<E, R>(run: (emit: (event: E) => void, stop: AbortSignal) => Promise<R>): AsyncGenerator<E, R, undefined> {
  const queue: E[] = [];
  let wake: (() => void) | null = null;
  let finished = false;
  let failure: { error: unknown } | null = null;
  let result: R | undefined;
  const stopper = new AbortController();
  const notify = (): void => {
    wake?.();
    wake = null;
  };
  const task = run((event) => {
    queue.push(event);
    notify();
  }, stopper.signal).then(
    (r) => {
      result = r;
      finished = true;
      notify();
    },
    (error: unknown) => {
      failure = { error };
      finished = true;
      notify();
    },
  );
  return (async function* drain(): AsyncGenerator<E, R, undefined> {
    try {
      for (;;) {
        while (queue.length > 0) yield queue.shift() as E;
        if (finished) break;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      if (!finished) {
        // The consumer left early: stop the generation and wait until it has cleaned up.
        stopper.abort();
        await task;
      }
    }
    await task;
    if (failure) throw (failure as { error: unknown }).error;
    return result as R;
  })();
}
