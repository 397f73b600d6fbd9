/**
 * Runs a list of tasks on n worker threads, one task per worker at a time, the next task going to
 * whichever worker finishes first. The main thread only posts messages and waits, so its event loop
 * stays free (timers, signals, servers run) while the workers compute.
 *
 * Failure is never a hang: a worker that throws (while loading or in a task), fails to start or exits
 * early rejects the run with a `WorkerError`; an aborted signal rejects it with an `AbortError`; and
 * every worker is terminated when the run ends, whatever the outcome.
 */
import { Worker } from 'node:worker_threads';
import { AbortError, WorkerError } from '../errors.js';
import type { Task, ToMain, ToWorker, WorkerInit } from './protocol.js';

export interface RunOptions {
  workers: number;
  init: WorkerInit;
  tasks: readonly Task[];
  /** Names the work in error messages, e.g. 'the feature pass'. */
  what: string;
  onResult: (taskIndex: number, value: unknown) => void;
  onEvent?: (taskIndex: number, event: unknown) => void;
  signal?: AbortSignal;
  /** The worker script (tests use their own); default: pargs' worker entry. */
  entry?: URL;
}

/**
 * Starts the worker script `entry`. A built `.js` entry starts directly. A `.ts` entry (running from
 * TypeScript sources: tests, tsx) starts through a small bootstrap that registers tsx's loader first,
 * because Node 20 does not apply `--import` loader hooks given in a worker's `execArgv`.
 */
export function startWorker(entry: URL, workerData: unknown): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** pargs' worker entry next to this file: `entry.js` in the built package, `entry.ts` in the sources. */
export function defaultEntry(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './entry.ts' : './entry.js', import.meta.url);
}

export async function runOnWorkers(o: RunOptions): Promise<void> {
  if (o.signal?.aborted) throw new AbortError(`${o.what} was aborted`);
  if (o.tasks.length === 0) return;
  const entry = o.entry ?? defaultEntry();
  const workers: Worker[] = [];
  let settled = false;
  let onAbort: (() => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      onAbort = () => fail(new AbortError(`${o.what} was aborted`));
      o.signal?.addEventListener('abort', onAbort, { once: true });
      let next = 0;
      let done = 0;
      for (let w = 0; w < Math.min(o.workers, o.tasks.length); w++) {
        const worker = startWorker(entry, o.init);
        workers.push(worker);
        let current: number | undefined;
        const give = (): void => {
          if (settled || next >= o.tasks.length) return;
          current = next++;
          const message: ToWorker = { type: 'task', id: current, task: o.tasks[current] };
          worker.postMessage(message);
        };
        const where = (): string => (current === undefined ? 'while loading the model' : `on task ${current + 1} of ${o.tasks.length}`);
        worker.on('message', (m: ToMain) => {
          if (settled) return;
          if (m.type === 'ready') give();
          else if (m.type === 'event') o.onEvent?.(m.id, m.event);
          else if (m.type === 'result') {
            current = undefined;
            try {
              o.onResult(m.id, m.value);
            } catch (err) {
              fail(err as Error);
              return;
            }
            if (++done === o.tasks.length) {
              settled = true;
              resolve();
            } else give();
          } else if (m.type === 'error') {
            fail(new WorkerError(`${o.what}: worker ${w + 1} of ${workers.length} failed ${where()}: ${m.name}: ${m.message}`, m.name));
          }
        });
        worker.on('error', (err) => fail(new WorkerError(`${o.what}: worker ${w + 1} crashed ${where()}: ${err.name}: ${err.message}`, err.name)));
        worker.on('exit', (code) => fail(new WorkerError(`${o.what}: worker ${w + 1} exited (code ${code}) ${where()} before the work was done`, 'exit')));
      }
    });
  } finally {
    settled = true;
    if (onAbort) o.signal?.removeEventListener('abort', onAbort);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
