/**
 * The workers axis shared by bench/train.ts and bench/decode.ts: the same call with workers = 1, 2, …
 * (`--workers 1,2`, any list), interleaved per round so load drift hits every count alike, each timing
 * including the workers' start-up (thread, engine, loading the weights), as a user call pays it.
 * Every count's output is compared with the first count's: the ratios are for identical results.
 * The machine's parallel capacity is measured before and after, since a shared machine may have no
 * idle core to give.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { flag, log, median, round, table } from './common.js';

export interface WorkersAxis {
  counts: number[];
  reps: number;
  /** Per count, the ms of every round. */
  ms: Record<string, number[]>;
  /** Per count, median over rounds of (ms with the first count) ÷ (ms with this count). */
  speedup: Record<string, number>;
  /** Every count gave output identical to the first count's. */
  identical: boolean;
  /** Per count, the machine's parallel capacity before and after the axis (see `parallelCapacity`). */
  capacity: Record<string, { before: number; after: number }>;
}

/**
 * The speed-up n threads can get on this machine right now: n copies of a fixed pure-JS loop on n
 * threads at once, throughput against one copy alone (n on an idle n-core machine; ~1 when other
 * load already takes every core). It bounds what any worker count can show in the same minute.
 */
export async function parallelCapacity(n: number): Promise<number> {
  const code = `const t = performance.now(); let x = 0; for (let i = 0; i < 1e8; i++) x = (x + i * 7) % 1000003; require('node:worker_threads').parentPort.postMessage([performance.now() - t, x]);`;
  const run = (threads: number): Promise<number> => {
    const start = performance.now();
    return Promise.all(Array.from({ length: threads }, () => new Promise<void>((resolve, reject) => {
      const w = new Worker(code, { eval: true });
      w.once('message', () => void w.terminate().then(() => resolve()));
      w.once('error', reject);
    }))).then(() => performance.now() - start);
  };
  const one = await run(1);
  const many = await run(n);
  return round((n * one) / many, 2);
}

export function workerCounts(): number[] {
  const text = flag('workers') ?? '1,2';
  const counts = text.split(',').map(Number);
  if (counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--workers must be a comma-separated list of positive integers, got "${text}"`);
  return counts;
}

export async function measureWorkers<T>(label: string, reps: number, run: (workers: number) => Promise<T>, same: (a: T, b: T) => boolean): Promise<WorkersAxis> {
  const counts = workerCounts();
  const capacity: Record<string, { before: number; after: number }> = {};
  for (const n of counts) capacity[n] = { before: await parallelCapacity(n), after: 0 };
  const ms: Record<string, number[]> = Object.fromEntries(counts.map((n) => [n, []]));
  let identical = true;
  for (let r = 0; r < reps; r++) {
    let reference: T | undefined;
    for (const n of counts) {
      log(`${label}, round ${r + 1}/${reps}: ${n} worker(s)…`);
      const start = performance.now();
      const out = await run(n);
      ms[n].push(performance.now() - start);
      if (reference === undefined) reference = out;
      else identical &&= same(reference, out);
    }
  }
  const speedup = Object.fromEntries(counts.map((n) => [n, round(median(ms[n].map((x, i) => ms[counts[0]][i] / x)), 2)]));
  for (const n of counts) capacity[n].after = await parallelCapacity(n);
  return { counts, reps, ms: Object.fromEntries(counts.map((n) => [n, ms[n].map((x) => round(x, 1))])), speedup, identical, capacity };
}

/** A Markdown table: one row per worker count; `perSecond` turns ms into a throughput column when given. */
export function workersTable(axis: WorkersAxis, what: string, perSecond?: { unit: string; amount: number }): string {
  const header = [`${what} (${availableParallelism()} cores)`, 'ms (median)', ...(perSecond ? [perSecond.unit] : []), `speed-up vs ${axis.counts[0]} worker (median of per-round ratios)`, 'machine capacity for n threads, before / after'];
  const rows = axis.counts.map((n) => {
    const m = median(axis.ms[n]);
    const c = axis.capacity[n];
    return [`${n} worker${n === 1 ? ' (this thread)' : 's'}`, m.toFixed(0), ...(perSecond ? [(perSecond.amount / (m / 1000)).toFixed(1)] : []), `**${axis.speedup[n].toFixed(2)}×**`, `${c.before.toFixed(2)}× / ${c.after.toFixed(2)}×`];
  });
  return `${table(header, rows)}\n\nresults identical for every worker count: ${axis.identical ? 'yes' : 'NO'}`;
}
