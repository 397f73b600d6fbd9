/**
 * The terminal token convention (src/lm/terminal-token.ts): which id pads a shorter response, and that a
 * complete response is scored at its last content token in training and in Best-of-N alike.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bestOfN } from '../../src/parallel/dispatch.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { endOfTurnTokenId, scoredResponse, terminalTokenId } from '../../src/lm/terminal-token.js';
import { PargsTokenizer } from '../../src/lm/tokenizer.js';
import { createRng } from '../../src/random.js';
import { planPairs } from '../../src/reward/features.js';
import { RewardHead } from '../../src/reward/head.js';
import { PartialRewardModel } from '../../src/reward/reward-model.js';
import { EOT, tinyTokenizerJson, writeTinyModel } from '../helpers/tiny-model.js';

const CHATML = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
const LLAMA3 = "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n{{ m.content }}<|eot_id|>{% endfor %}";
const PLAIN_TURNS = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}";

/** The tiny byte-level tokenizer with extra special tokens (ids after <|endoftext|>). */
function withSpecials(specials: string[]): { json: Record<string, unknown>; ids: number[]; eotId: number } {
  const { json, eotId } = tinyTokenizerJson();
  const added = json.added_tokens as Record<string, unknown>[];
  const ids = specials.map((content, k) => {
    added.push({ id: eotId + 1 + k, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    return eotId + 1 + k;
  });
  return { json, ids, eotId };
}

describe('terminalTokenId', () => {
  it('is the end-of-turn token of a ChatML or Llama-3 template, not the first EOS', () => {
    const { json, ids: [imEnd, eotIdToken], eotId } = withSpecials(['<|im_end|>', '<|eot_id|>']);
    const chatml = PargsTokenizer.fromJson(json, { eos_token: EOT, chat_template: CHATML });
    expect(endOfTurnTokenId(chatml)).toBe(imEnd);
    expect(terminalTokenId(chatml, [eotId, imEnd])).toBe(imEnd);
    const llama3 = PargsTokenizer.fromJson(json, { bos_token: EOT, eos_token: EOT, chat_template: LLAMA3 });
    expect(terminalTokenId(llama3, [eotId])).toBe(eotIdToken);
  });

  it('falls back to generation_config’s first EOS, then the tokenizer’s EOS', () => {
    const { json, eotId } = withSpecials([]);
    const noTemplate = PargsTokenizer.fromJson(json, { eos_token: EOT });
    expect(terminalTokenId(noTemplate, [7, eotId])).toBe(7);
    expect(terminalTokenId(noTemplate, [])).toBe(eotId);
    // A template that ends a turn with plain text (a newline) has no end-of-turn token.
    const plainTurns = PargsTokenizer.fromJson(json, { eos_token: EOT, chat_template: PLAIN_TURNS });
    expect(endOfTurnTokenId(plainTurns)).toBeNull();
    expect(terminalTokenId(plainTurns, [9])).toBe(9);
  });

  it('the feature pass pads the shorter response with the end-of-turn id of a chat model', async () => {
    const tiny = await writeTinyModel({ modelType: 'qwen2', kvHeads: 2, seed: 31, chatTemplate: CHATML });
    const tokFile = join(tiny.dir, 'tokenizer.json');
    const { json, ids: [imEnd] } = withSpecials(['<|im_end|>']);
    expect(JSON.parse(await readFile(tokFile, 'utf8')).added_tokens).toHaveLength(1);
    await writeFile(tokFile, JSON.stringify(json));
    const lm = await loadCausalLM(tiny.dir);
    try {
      expect(lm.generation.eosTokenIds[0]).not.toBe(imEnd);
      const [plan] = planPairs({ backbone: lm, pairs: [{ promptIds: [1, 2], chosenIds: [3, 4, 5], rejectedIds: [6] }], prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 } });
      expect(plan?.rejectedSequence).toEqual([1, 2, 6, imEnd, imEnd]);
    } finally {
      lm.dispose();
    }
  });
});

describe('Best-of-N scores a complete response at its last content token', () => {
  it('a sample that stopped at EOS gets the reward of its tokens without the EOS', async () => {
    // A third of the vocabulary ends a row, so several samples stop at EOS within a few tokens.
    const eos = Array.from({ length: 100 }, (_, i) => i);
    const tiny = await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 32, config: { eos_token_id: eos } });
    const lm = await loadCausalLM(tiny.dir);
    const rm = new PartialRewardModel(lm, RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(3, 'head')), 'full');
    try {
      const [result] = await bestOfN({ lm, rewardModel: rm, promptIds: [[150, 151, 152]], n: 8, maxNewTokens: 6, seed: 4 });
      const stopped = result.samples.filter((s) => s.generatedIds.length > 1 && eos.includes(s.generatedIds.at(-1) as number));
      expect(stopped.length).toBeGreaterThan(0);
      for (const s of result.samples) {
        const [expected] = await rm.scoreIdsBatch([{ promptIds: s.promptIds, responseIds: scoredResponse(s.generatedIds, eos) }]);
        expect(s.reward).toBeCloseTo(expected, 5);
      }
      // Scoring the EOS position instead gives other rewards, so the check above can fail.
      const s = stopped[0];
      const [atEos] = await rm.scoreIdsBatch([{ promptIds: s.promptIds, responseIds: s.generatedIds }]);
      expect(Math.abs(atEos - s.reward)).toBeGreaterThan(1e-6);
    } finally {
      rm.dispose();
      lm.dispose();
    }
  });

  it('scoredResponse drops one trailing EOS and keeps a lone EOS or a cut-off response', () => {
    expect(scoredResponse([5, 6, 2], [2])).toEqual([5, 6]);
    expect(scoredResponse([5, 6], [2])).toEqual([5, 6]);
    expect(scoredResponse([2], [2])).toEqual([2]);
  });
});
