import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OptionError } from '../../src/errors.js';
import { currentBackend, initBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import { nativeInstalled } from './helpers.js';

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

  it('auto picks wasm when no native binding is installed, and caches the choice', async () => {
    if (await nativeInstalled()) return; // auto would rightly pick tensorflow there
    const log = vi.fn();
    const info = await initBackend({ log });
    expect(info).toMatchObject({ name: 'wasm', native: false, gpu: false });
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

  it('explicit tensorflow without tfjs-node throws OptionError with install instructions', async () => {
    if (await nativeInstalled()) return;
    const before = await initBackend({ backend: 'wasm', log: () => {} });
    const err = await initBackend({ backend: 'tensorflow' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toContain('npm install @tensorflow/tfjs-node');
    expect((err as Error).message).toMatch(/libtensorflow/);
    // A failed request leaves the previous choice in place and later calls still work.
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
