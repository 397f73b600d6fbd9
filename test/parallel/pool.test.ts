/** The worker pool from the outside: crashes and throws become WorkerErrors, aborts end every thread. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AbortError, OptionError, WorkerError } from '../../src/errors.js';
import { fitWorkers, MIN_AUTO_WORK, parseWorkers, requestedWorkers, WORKER_OVERHEAD_BYTES } from '../../src/parallel/count.js';
import { runOnWorkers, type RunOptions } from '../../src/parallel/pool.js';
import type { WorkerInit } from '../../src/parallel/protocol.js';
import { expectReproduced } from '../helpers/backend-guarantee.js';

const fixture = (name: string) => new URL(`./fixtures/${name}.ts`, import.meta.url);
const tasks = [{ kind: 'features', jobs: [] }, { kind: 'features', jobs: [] }] as RunOptions['tasks'];
const run = (entry: URL, o: Partial<RunOptions> = {}) =>
  runOnWorkers({ workers: 2, init: {} as WorkerInit, tasks, what: 'the test run', onResult: () => {}, entry, ...o });

describe('runOnWorkers', () => {
  it('a worker that exits mid-task rejects with a WorkerError naming the task', async () => {
    const err = await run(fixture('crashing-worker')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerError);
    expect((err as WorkerError).workerErrorName).toBe('exit');
    expect((err as Error).message).toMatch(/the test run: worker \d exited \(code 3\) on task \d of 2 before the work was done/);
  });

  it('a worker that throws at startup rejects with a WorkerError carrying its message', async () => {
    const err = await run(fixture('throwing-worker')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerError);
    expect((err as Error).message).toMatch(/crashed while loading the model: RangeError: fixture worker failed to start/);
  });

  it('an abort rejects with AbortError and terminates every worker', async () => {
    const alive = new SharedArrayBuffer(4);
    const counter = new Int32Array(alive);
    const controller = new AbortController();
    const running = run(fixture('busy-worker'), { init: { alive } as unknown as WorkerInit, signal: controller.signal });
    while (Atomics.load(counter, 0) < 20) await sleep(20); // both threads are up and counting
    controller.abort();
    await expect(running).rejects.toThrow(AbortError);
    const after = Atomics.load(counter, 0);
    await sleep(150);
    expect(Atomics.load(counter, 0)).toBe(after); // nobody counts any more: every thread was terminated
  });

  it('a successful run delivers every result and terminates every worker', async () => {
    const alive = new SharedArrayBuffer(4);
    const counter = new Int32Array(alive);
    const results: unknown[] = [];
    await run(fixture('lingering-worker'), { init: { alive } as unknown as WorkerInit, tasks: [...tasks, ...tasks], onResult: (i, v) => (results[i] = v) });
    expect(results).toEqual([0, 1, 2, 3]);
    const after = Atomics.load(counter, 0);
    await sleep(150);
    expect(Atomics.load(counter, 0)).toBe(after);
  });

  it('an already-aborted signal starts no worker', async () => {
    await expect(run(fixture('throwing-worker'), { signal: AbortSignal.abort() })).rejects.toThrow(AbortError);
  });
});

describe('worker count', () => {
  const MiB = 2 ** 20;
  it('keeps a request that fits, lowers one that does not, with a message naming the cost', () => {
    expect(fitWorkers(2, 100 * MiB, 8192 * MiB)).toEqual({ workers: 2 });
    const lowered = fitWorkers(4, 1024 * MiB, 4 * (1024 * MiB + WORKER_OVERHEAD_BYTES));
    expect(lowered.workers).toBe(3);
    expect(lowered.message).toMatch(/4 workers need 4 × 1280 MiB \(weights 1024 MiB \+ engine 256 MiB\).*using 3 workers/);
    expect(fitWorkers(2, 1024 * MiB, 1024 * MiB)).toMatchObject({ workers: 1, message: expect.stringMatching(/using this thread only/) });
  });

  it('option > PARGS_WORKERS > the cores (for big calls); bad values are refused', () => {
    const saved = process.env.PARGS_WORKERS;
    try {
      delete process.env.PARGS_WORKERS;
      // The default (the cores) only for calls big enough to repay the workers' start-up.
      expect(requestedWorkers(undefined, MIN_AUTO_WORK - 1)).toBe(1);
      expect(requestedWorkers(undefined, MIN_AUTO_WORK)).toBe(availableParallelism());
      process.env.PARGS_WORKERS = '3';
      expect(requestedWorkers(undefined, 0)).toBe(3);
      expect(requestedWorkers(2, 0)).toBe(2);
      process.env.PARGS_WORKERS = 'two';
      expect(() => requestedWorkers(undefined, 0)).toThrow(/PARGS_WORKERS: workers must be a positive integer.*"two"/);
    } finally {
      if (saved === undefined) delete process.env.PARGS_WORKERS;
      else process.env.PARGS_WORKERS = saved;
    }
    expect(() => parseWorkers(0, 'workers option')).toThrow(OptionError);
    expect(() => parseWorkers(1.5, 'workers option')).toThrow(OptionError);
  });
});

// The built package starts dist/parallel/entry.js directly (no tsx); `npm run build` (also run by
// `npm install`) produces it.
const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
describe.skipIf(!existsSync(dist))('the built package (dist)', () => {
  it('runs workers from plain Node, with results identical to one thread', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [fileURLToPath(new URL('./fixtures/dist-check.mjs', import.meta.url))], { timeout: 60_000 });
    const result = JSON.parse(stdout);
    expectReproduced(result.two, result.one, result.backend);
    if (result.backend !== 'tensorflow') expect(result).toMatchObject({ identical: true });
  });
});
