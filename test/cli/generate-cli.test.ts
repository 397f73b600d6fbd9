/** `pargs info` and `pargs generate` through main(), with stdout/stderr captured. */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { generate } from '../../src/parallel/dispatch.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let dir = '';
beforeAll(async () => {
  dir = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 31 })).dir;
});

async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out, err };
  } finally {
    write.mockRestore();
  }
}

describe('pargs CLI', () => {
  it('info reports architecture, parameters, vocabulary, context and backend', async () => {
    const { code, out } = await run(['info', dir, '--json']);
    expect(code).toBe(0);
    const info = JSON.parse(out.at(-1) as string);
    expect(info).toMatchObject({ architecture: 'llama', layers: 2, vocabSize: 300, context: 128 });
    expect(info.parameters).toBeGreaterThan(0);
    expect(info.backend).toMatch(/WebAssembly|TensorFlow|CPU/i);
  });

  it('generate --json prints {promptIds, generatedIds, text} on the last line, equal to the library call', async () => {
    const { code, out } = await run(['generate', '--model', dir, '--prompt-ids', '5,6,7', '--max-new-tokens', '6', '--greedy', '--ignore-eos', '--json']);
    expect(code).toBe(0);
    const result = JSON.parse(out.at(-1) as string);
    const lm = await loadCausalLM(dir);
    const [expected] = await generate({ lm, promptIds: [[5, 6, 7]], maxNewTokens: 6, stopAtEos: false });
    lm.dispose();
    expect(result).toEqual({ promptIds: [5, 6, 7], generatedIds: expected.generatedIds, text: expected.text });
  });

  it('sampling with a seed is reproducible', async () => {
    const args = ['generate', '--model', dir, '--prompt', 'the', '--temperature', '0.8', '--top-k', '20', '--seed', '4', '--max-new-tokens', '8', '--json'];
    const a = JSON.parse((await run(args)).out.at(-1) as string);
    const b = JSON.parse((await run(args)).out.at(-1) as string);
    expect(a).toEqual(b);
  });

  it.each([
    [['generate', '--model', 'DIR'], /exactly one of --prompt/],
    [['generate', '--model', 'DIR', '--prompt', 'x', '--greedy', '--top-k', '3'], /--greedy cannot be combined/],
    [['generate', '--model', 'DIR', '--prompt-ids', '1,a'], /token ids/],
    [['generate', '--model', 'DIR', '--prompt', 'x', '--max-new-tokens', '2.5'], /integer/],
    [['generate', '--model', 'DIR', '--prompt', 'x', '--wat'], /unknown flag --wat/],
    [['generate', '--prompt', 'x'], /--model DIR is required/],
    [['info'], /exactly one model folder/],
  ])('bad usage %j exits 2 with a clear message', async (argv, message) => {
    const { code, err } = await run((argv as string[]).map((a) => (a === 'DIR' ? dir : a)));
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(message);
  });

  it('an unknown command exits 2 and lists the commands', async () => {
    const { code, err } = await run(['frobnicate']);
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/generate/);
  });
});
