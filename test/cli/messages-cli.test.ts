/** `--messages FILE` on `pargs generate` and `pargs sample`: the model's chat template, or the HH transcript, noted once. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { generate } from '../../src/parallel/dispatch.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { QWEN2 } from '../fixtures/chat-templates.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let work = '';
let chatModel = '';
let plainModel = '';
let lm: CausalLM;
const hi = [{ role: 'user', content: 'Hi?' }];
const more = [...hi, { role: 'assistant', content: 'Hello.' }, { role: 'user', content: 'More?' }];
const chatml = '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n';

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'pargs-messages-'));
  chatModel = (await writeTinyModel({ modelType: 'qwen2', kvHeads: 2, seed: 71, chatTemplate: QWEN2, config: { max_position_embeddings: 512 } })).dir;
  plainModel = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 72 })).dir;
  lm = await loadCausalLM(chatModel);
  await writeFile(join(work, 'one.json'), JSON.stringify(hi, null, 2));
  await writeFile(join(work, 'two.jsonl'), `${JSON.stringify(hi)}\n\n${JSON.stringify(more)}\n`);
  await writeFile(join(work, 'bad.jsonl'), `${JSON.stringify(hi)}\n[{"role": "user"}]\n`);
});
afterAll(() => lm.dispose());

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

const decode = ['--max-new-tokens', '4', '--greedy', '--ignore-eos', '--json'];

describe('pargs generate --messages', () => {
  it('renders the model’s chat template and prints it as "prompt" with --json, equal to the library call', async () => {
    const { code, out, err } = await run(['generate', '--model', chatModel, '--messages', join(work, 'one.json'), ...decode]);
    expect(code).toBe(0);
    const result = JSON.parse(out.at(-1) as string);
    expect(result.prompt).toBe(chatml);
    const [expected] = await generate({ lm, prompts: [hi], maxNewTokens: 4, stopAtEos: false });
    expect(result).toEqual({ prompt: chatml, promptIds: lm.tokenizer.encodeChat(chatml), generatedIds: expected.generatedIds, text: expected.text });
    expect(err.join('\n')).not.toMatch(/no chat_template/);
  });

  it('decodes each conversation of a JSONL file', async () => {
    const { code, out, err } = await run(['generate', '--model', chatModel, '--messages', join(work, 'two.jsonl'), ...decode]);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const results = out.map((l) => JSON.parse(l) as { prompt: string });
    expect(results.map((r) => r.prompt)).toEqual([chatml, lm.tokenizer.applyChatTemplate(more, { addGenerationPrompt: true })]);
  });

  it('without a template uses the HH transcript and says so once', async () => {
    const { code, out, err } = await run(['generate', '--model', plainModel, '--messages', join(work, 'two.jsonl'), ...decode]);
    expect(code).toBe(0);
    expect(JSON.parse(out[0]).prompt).toBe('\n\nHuman: Hi?\n\nAssistant:');
    expect(err.filter((l) => /no chat_template.*HH transcript/.test(l))).toHaveLength(1);
  });

  it('refuses a bad message naming the file and line, and more than one prompt source', async () => {
    const bad = await run(['generate', '--model', chatModel, '--messages', join(work, 'bad.jsonl'), ...decode]);
    expect(bad.code).toBe(2);
    expect(bad.err.join('\n')).toMatch(/bad\.jsonl line 2\[0\] must be a \{role: string, content: string\} message/);
    const both = await run(['generate', '--model', chatModel, '--messages', join(work, 'one.json'), '--prompt', 'x']);
    expect(both.code).toBe(2);
    expect(both.err.join('\n')).toMatch(/exactly one of --prompt TEXT, --prompt-ids 1,2,3 or --messages FILE/);
  });
});

describe('pargs sample --messages', () => {
  it('prints the rendered prompt in each JSON result', async () => {
    const { code, out } = await run(['sample', '--model', chatModel, '--messages', join(work, 'one.json'), '--method', 'plain', '--max-new-tokens', '3', '--json']);
    expect(code).toBe(0);
    const result = JSON.parse(out.at(-1) as string);
    expect(result).toMatchObject({ prompt: chatml, method: 'plain' });
    expect(result.generatedIds).toHaveLength(3);
  });
});
