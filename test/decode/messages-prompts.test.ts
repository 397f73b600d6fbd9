/** Conversation prompts reach every decoder through resolvePrompts: the chat template's text, encoded without a double BOS. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argsSample, bestOfN } from '../../src/parallel/dispatch.js';
import { renderPrompt, resolvePrompts } from '../../src/decode/generate.js';
import { generate } from '../../src/parallel/dispatch.js';
import { guidedSample } from '../../src/parallel/dispatch.js';
import { OptionError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { RewardHead } from '../../src/reward/head.js';
import { PartialRewardModel } from '../../src/reward/reward-model.js';
import { MISTRAL } from '../fixtures/chat-templates.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
let rm: PartialRewardModel;
const conversation = [{ role: 'user', content: 'Hi?' }];

beforeAll(async () => {
  // The Mistral-shaped template writes {{ bos_token }} itself (the no-double-BOS rule is tested in test/lm/chat-template.test.ts).
  const dir = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 81, chatTemplate: MISTRAL })).dir;
  lm = await loadCausalLM(dir);
  rm = new PartialRewardModel(lm, RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(1, 'head-init')), 'partial');
});
afterAll(() => {
  rm.dispose();
  lm.dispose();
});

describe('message prompts', () => {
  it('render with the template for the assistant’s turn and encode to the same ids in every decoder', async () => {
    const rendered = renderPrompt(lm, conversation);
    expect(rendered).toEqual({ text: '<|endoftext|>[INST] Hi? [/INST]', rendering: 'chat-template' });
    const ids = lm.tokenizer.encodeChat(rendered.text);
    expect(resolvePrompts({ lm, prompts: [conversation, 'plain text'] })).toEqual([ids, lm.tokenizer.encode('plain text')]);
    const common = { lm, prompts: [conversation], maxNewTokens: 2, seed: 1 };
    const [g] = await generate(common);
    const [guided] = await guidedSample({ ...common, rewardModel: rm, topK: 3 });
    const [args] = await argsSample({ ...common, rewardModel: rm, topK: 3 });
    const [best] = await bestOfN({ ...common, rewardModel: rm, n: 2 });
    for (const promptIds of [g.promptIds, guided.promptIds, args.promptIds, best.samples[0].promptIds]) expect(promptIds).toEqual(ids);
  });

  it('refuses a malformed conversation with an OptionError naming the prompt', () => {
    expect(() => resolvePrompts({ lm, prompts: [[{ role: 'user' }] as never] })).toThrow(OptionError);
    expect(() => resolvePrompts({ lm, prompts: [[{ role: 'user' }] as never] })).toThrow(/prompt 0\[0\] must be a \{role: string, content: string\} message/);
  });
});
