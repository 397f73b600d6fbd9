/**
 * Turns a callback-driven generation into an async iterator: `for await (const token of stream) …`,
 * with the final result returned when the iterator completes. Errors (including AbortError) surface
 * from the iterator. A consumer that stops early (`break`, `return()`, a throw in its loop body) aborts
 * the generation through the signal handed to `run`, and the iterator's cleanup waits for it to free
 * its tensors, so leaving the loop leaves no work running.
 */
export function streamOf<E, R>(run: (emit: (event: E) => void, signal: AbortSignal) => Promise<R>, userSignal?: AbortSignal): AsyncGenerator<E, R, undefined> {
  const queue: E[] = [];
  let wake: (() => void) | null = null;
  let finished = false;
  let failure: { error: unknown } | null = null;
  let result: R | undefined;
  // `run` gets one signal that fires for the user's abort and for an early exit of the consumer.
  const stopper = new AbortController();
  const forward = (): void => stopper.abort();
  if (userSignal?.aborted) stopper.abort();
  else userSignal?.addEventListener('abort', forward, { once: true });
  const notify = (): void => {
    wake?.();
    wake = null;
  };
  const task = run((event) => {
    queue.push(event);
    notify();
  }, stopper.signal)
    .then(
      (r) => {
        result = r;
      },
      (error: unknown) => {
        failure = { error };
      },
    )
    .finally(() => {
      finished = true;
      userSignal?.removeEventListener('abort', forward);
      notify();
    });
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
