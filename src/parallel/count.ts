/**
 * How many worker threads to use: the `workers` option, else `PARGS_WORKERS`, else the available
 * cores; then lowered so that n copies of the weights fit in free memory. Every worker holds its own
 * copy of the weights (float32 in its engine's heap), so n workers cost n × the weights plus a fixed
 * engine overhead each, on top of the copy the main thread keeps.
 */
import { availableParallelism, freemem } from 'node:os';
import { OptionError } from '../errors.js';

/** Per-worker memory besides the weights: the wasm engine, activations and the KV cache of a batch. */
export const WORKER_OVERHEAD_BYTES = 256 * 2 ** 20;
/** Share of the free memory the workers may take; the rest stays for the main thread and the system. */
const FREE_MEMORY_SHARE = 0.75;

/** Parses and validates a worker count from an option or the environment (`where` names the source). */
export function parseWorkers(value: unknown, where: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new OptionError(`${where}: workers must be a positive integer (1 runs everything in this thread), got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * Work (tokens run × parameters) below which the default worker count stays in this thread: about
 * 20 k tokens on the bundled 2.56 M-parameter model, several seconds of one wasm thread, against the
 * 1–1.5 s each call's workers take to start. An explicit count (option or PARGS_WORKERS) is always used.
 */
export const MIN_AUTO_WORK = 5e10;

/**
 * The requested worker count: option > PARGS_WORKERS > os.availableParallelism(), the last only for
 * calls of at least MIN_AUTO_WORK (`work`: tokens the call runs × parameters per token).
 */
export function requestedWorkers(option: number | undefined, work: number): number {
  if (option !== undefined) return parseWorkers(option, 'workers option');
  const env = process.env.PARGS_WORKERS;
  if (env !== undefined && env.trim() !== '') return parseWorkers(env, 'PARGS_WORKERS');
  return work >= MIN_AUTO_WORK ? availableParallelism() : 1;
}

/**
 * The largest n ≤ `requested` whose weight copies fit in `freeBytes`, and a message when n was lowered
 * (undefined when the request fits). 1 means: run in this thread, no worker copies at all.
 */
export function fitWorkers(requested: number, weightBytes: number, freeBytes: number): { workers: number; message?: string } {
  if (requested <= 1) return { workers: requested };
  const perWorker = weightBytes + WORKER_OVERHEAD_BYTES;
  const fits = Math.floor((freeBytes * FREE_MEMORY_SHARE) / perWorker);
  if (fits >= requested) return { workers: requested };
  const workers = fits >= 2 ? fits : 1;
  const mib = (b: number) => `${Math.round(b / 2 ** 20)} MiB`;
  return {
    workers,
    message:
      `pargs: ${requested} workers need ${requested} × ${mib(perWorker)} (weights ${mib(weightBytes)} + engine ${mib(WORKER_OVERHEAD_BYTES)}), ` +
      `but only ${mib(freeBytes)} is free; using ${workers === 1 ? 'this thread only' : `${workers} workers`}. Pass workers: ${workers} (--workers ${workers}) to silence this.`,
  };
}

/** `requestedWorkers` lowered to what memory allows; a lowered count is reported as a process warning. */
export function resolveWorkers(option: number | undefined, work: number, weightBytes: number): number {
  const { workers, message } = fitWorkers(requestedWorkers(option, work), weightBytes, freemem());
  if (message) process.emitWarning(message, 'PargsWarning');
  return workers;
}
