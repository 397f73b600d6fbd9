/**
 * A pargs worker thread: loads its models from `workerData` (a `WorkerInit`), answers `ready`, then runs
 * the tasks it is sent one at a time. Every failure is reported as an `error` message (the thread stays
 * up until the main thread terminates it), so the caller always hears why.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadWorkerModels } from './models.js';
import type { ToMain, ToWorker, WorkerInit } from './protocol.js';
import { runTask } from './tasks.js';

const port = parentPort;
if (!port) throw new Error('src/parallel/entry is a worker thread script; pargs starts it itself');

const post = (message: ToMain, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);
const report = (err: unknown, id?: number): void => {
  const e = err instanceof Error ? err : new Error(String(err));
  post({ type: 'error', id, name: e.name, message: e.message, stack: e.stack });
};

try {
  const models = await loadWorkerModels(workerData as WorkerInit);
  port.on('message', (m: ToWorker) => {
    runTask(models, m.task, (event) => post({ type: 'event', id: m.id, event })).then(
      ({ value, transfer }) => post({ type: 'result', id: m.id, value }, transfer),
      (err) => report(err, m.id),
    );
  });
  post({ type: 'ready' });
} catch (err) {
  report(err);
}
