/**
 * Turns a callback-driven generation into an async iterator: `for await (const token of stream) …`,
 * with the final result returned when the iterator completes. Errors (including AbortError) surface
 * from the iterator.
 */
export function streamOf<E, R>(run: (emit: (event: E) => void) => Promise<R>): AsyncGenerator<E, R, undefined> {
  const queue: E[] = [];
  let wake: (() => void) | null = null;
  let finished = false;
  let failure: { error: unknown } | null = null;
  let result: R | undefined;
  const notify = (): void => {
    wake?.();
    wake = null;
  };
  const task = run((event) => {
    queue.push(event);
    notify();
  }).then(
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
    for (;;) {
      while (queue.length > 0) yield queue.shift() as E;
      if (finished) break;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    await task;
    if (failure) throw (failure as { error: unknown }).error;
    return result as R;
  })();
}
