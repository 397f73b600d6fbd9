/**
 * Crashes stay the user's: after pargs has initialised WebAssembly, an error thrown in user code prints
 * the user's own message (not the wasm glue's minified source) and exits with Node's usual code 1, and a
 * listener the user registered before loading is kept.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnScript } from '../helpers/spawn-cli.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

const script = join(import.meta.dirname, 'fixtures', 'crash-after-load.ts');
let model = '';
beforeAll(async () => {
  model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 73 })).dir;
});

describe('an uncaught error in user code after loadCausalLM', () => {
  it('prints under 2 KB with the user message and exits with code 1', async () => {
    const { code, stderr } = await spawnScript(script, [model]).done;
    expect(stderr).toContain('loaded on wasm');
    expect(stderr).toContain('user bug 4711');
    expect(Buffer.byteLength(stderr)).toBeLessThan(2048);
    expect(code).toBe(1);
  });

  it("keeps the user's own uncaughtException listener, registered before loading", async () => {
    const { code, stderr } = await spawnScript(script, [model, 'own-handler']).done;
    expect(stderr).toContain('own handler saw: user bug 4711');
    expect(Buffer.byteLength(stderr)).toBeLessThan(2048);
    expect(code).toBe(5);
  });
});
