import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OptionError } from '../../src/errors.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUTO_NATIVE_MIN_PARAMETERS, autoChoice, currentBackend, initBackend } from '../../src/engine/backend.js';
import { importNativeBinding } from '../../src/engine/native/import.js';
import { tf } from '../../src/engine/tf.js';
import { spawnCli } from '../helpers/spawn-cli.js';

/** Whether a native binding loads here (provisioned by "pargs native install", or a project dependency). */
const NATIVE = (await importNativeBinding()).loaded !== undefined;

const saved = { backend: process.env.PARGS_BACKEND, verbose: process.env.PARGS_VERBOSE };

function restoreEnv(): void {
  for (const [key, value] of [
    ['PARGS_BACKEND', saved.backend],
    ['PARGS_VERBOSE', saved.verbose],
  ] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}

describe('initBackend', () => {
  beforeEach(() => {
    delete process.env.PARGS_BACKEND;
    delete process.env.PARGS_VERBOSE;
  });
  afterEach(() => {
    restoreEnv();
    vi.restoreAllMocks();
  });

  it('auto without a workload picks wasm (the embedded default), says why, and caches the choice', async () => {
    const log = vi.fn();
    await initBackend({ backend: 'cpu', log: () => {} });
    const info = await initBackend({ backend: 'wasm', log });
    expect(info).toMatchObject({ name: 'wasm', native: false, gpu: false, threads: 1 });
    expect(info.description).toMatch(/WebAssembly/);
    expect(tf.getBackend()).toBe('wasm');
    expect(currentBackend()).toBe(info);
    expect(log).toHaveBeenCalledTimes(1);
    expect(log.mock.calls[0][0]).toMatch(/wasm/);

    const again = await initBackend({ log });
    expect(again).toBe(info); // idempotent: same object, no second report
    expect(await initBackend({ backend: 'wasm', log })).toBe(info);
    expect(log).toHaveBeenCalledTimes(1);
    expect(tf.env().getBool('PROD')).toBe(true);
    expect(autoChoice(undefined)).toMatchObject({ name: 'wasm', reason: expect.stringMatching(/embedded default/) });
  });

  it('auto picks by model size: wasm below the measured threshold, native from it (when it loads), and says why', async () => {
    const small = autoChoice({ parameters: AUTO_NATIVE_MIN_PARAMETERS - 1 });
    const large = autoChoice({ parameters: AUTO_NATIVE_MIN_PARAMETERS });
    expect(small.name).toBe('wasm');
    expect(large.name).toBe('tensorflow');
    expect(small.reason).toMatch(/M parameters </);
    expect(large.reason).toMatch(/M parameters ≥/);

    const log = vi.fn();
    await initBackend({ backend: 'wasm', log: () => {} });
    expect((await initBackend({ workload: { parameters: 1e6 }, log })).name).toBe('wasm');
    const big = await initBackend({ workload: { parameters: 1e9 }, log });
    expect(big.name).toBe(NATIVE ? 'tensorflow' : 'wasm');
    // The banner names the reason, and where native is missing, why it fell back.
    expect(log.mock.calls.at(-1)![0]).toMatch(NATIVE ? /auto: 1000\.0 M parameters ≥/ : /auto: 1000\.0 M parameters ≥ .*but tensorflow: /);
    await initBackend({ backend: 'wasm', log: () => {} });
  });

  it('rejects a malformed workload with OptionError', async () => {
    const err = await initBackend({ workload: { parameters: -1 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toMatch(/parameters/);
  });

  it.runIf(NATIVE)('native: reports libtensorflow, the device asked of the backend, and its threads', async () => {
    const info = await initBackend({ backend: 'tensorflow', log: () => {} });
    expect(info).toMatchObject({ name: 'tensorflow', native: true });
    expect(info.libtensorflow).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.gpu).toBe((tf.backend() as unknown as { isUsingGpuDevice: boolean }).isUsingGpuDevice);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(info.description).toContain(`TensorFlow native ${info.libtensorflow} on ${info.gpu ? 'GPU' : 'CPU'}`);
    // Our BatchMatMul gradient survives the binding's own tfjs registering the stock ones.
    expect((tf.getGradient(tf.BatchMatMul) as unknown as Record<symbol, unknown>)[Symbol.for('pargs.batchMatMulGrad')]).toBe(true);
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    expect(Array.from(await tf.matMul(x, x).data())).toEqual([7, 10, 15, 22]);
    await initBackend({ backend: 'wasm', log: () => {} });
  });

  it('honours PARGS_BACKEND, and an explicit option overrides it', async () => {
    process.env.PARGS_BACKEND = 'cpu';
    const cpu = await initBackend({ log: () => {} });
    expect(cpu).toMatchObject({ name: 'cpu', native: false, gpu: false });
    expect(tf.getBackend()).toBe('cpu');

    process.env.PARGS_BACKEND = ' WASM '; // trimmed, case-insensitive
    expect((await initBackend({ log: () => {} })).name).toBe('wasm');

    process.env.PARGS_BACKEND = 'cpu';
    expect((await initBackend({ backend: 'wasm', log: () => {} })).name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('re-activates the cached backend if tfjs was switched behind its back', async () => {
    const info = await initBackend({ backend: 'wasm', log: () => {} });
    await tf.setBackend('cpu');
    expect(await initBackend({ backend: 'wasm', log: () => {} })).toEqual(info);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('rejects an unknown option value with OptionError naming it and the valid names', async () => {
    const err = await initBackend({ backend: 'gpu' as never }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toMatch(/"gpu"/);
    for (const name of ['tensorflow', 'wasm', 'cpu', 'auto']) expect((err as Error).message).toContain(`"${name}"`);
  });

  it('rejects an unknown PARGS_BACKEND with OptionError naming the variable and value', async () => {
    process.env.PARGS_BACKEND = 'bogus';
    const err = await initBackend().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toMatch(/PARGS_BACKEND/);
    expect((err as Error).message).toMatch(/"bogus"/);
  });

  it('explicit tensorflow with nothing provisioned exits 2 with the provisioning command (CLI, empty native home)', async () => {
    const home = await mkdtemp(join(tmpdir(), 'pargs-no-native-'));
    const { code, stderr } = await spawnCli(['info', 'models/sotu-lm', '--backend', 'tensorflow'], { PARGS_NATIVE_HOME: home }).done;
    expect(code).toBe(2);
    expect(stderr).toMatch(/backend "tensorflow" is not available/);
    expect(stderr).toContain(`nothing provisioned in ${home}`);
    expect(stderr).toContain('npx pargs native install');
  });

  it('a failed explicit request leaves the previous choice in place', async () => {
    const before = await initBackend({ backend: 'wasm', log: () => {} });
    const err = await initBackend({ backend: 'nosuch' as never }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect(currentBackend()).toBe(before);
    expect((await initBackend({ backend: 'cpu', log: () => {} })).name).toBe('cpu');
  });

  it('serialises concurrent calls: the last request wins', async () => {
    const [a, b] = await Promise.all([
      initBackend({ backend: 'cpu', log: () => {} }),
      initBackend({ backend: 'wasm', log: () => {} }),
    ]);
    expect([a.name, b.name]).toEqual(['cpu', 'wasm']);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('is quiet by default and writes one stderr line when PARGS_VERBOSE is set', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const ours = (): unknown[] => write.mock.calls.filter((c) => String(c[0]).startsWith('pargs:'));
    await initBackend({ backend: 'cpu' });
    await initBackend({ backend: 'wasm' });
    expect(ours()).toHaveLength(0);
    process.env.PARGS_VERBOSE = '1';
    await initBackend({ backend: 'cpu' });
    expect(ours()).toHaveLength(1);
    await initBackend({ backend: 'cpu' }); // cached: no second line
    expect(ours()).toHaveLength(1);
  });

  it('registers the wasm patches once, however often wasm is chosen', async () => {
    const warn = vi.spyOn(console, 'warn');
    for (let i = 0; i < 3; i++) {
      await initBackend({ backend: 'wasm', log: () => {} });
      await initBackend({ backend: 'cpu', log: () => {} });
    }
    expect(warn.mock.calls.filter((c) => /already registered|Overriding/.test(String(c[0])))).toHaveLength(0);
    expect(tf.getKernel(tf.UnsortedSegmentSum, 'wasm')).toBeDefined();
  });
});
