/** `pargs generate`: plain decoding from a local model, streaming text to stdout. */
import { renderPrompt, type DecodeStrategy, type Prompt } from '../decode/generate.js';
import { generate } from '../parallel/dispatch.js';
import { OptionError } from '../errors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { loadCausalLM } from '../lm/load.js';
import { defineCommand, type CommandIO } from './args.js';
import { noteRendering, readMessagesFile } from './messages.js';

/** Parses "1,2,3" into token ids. */
export function parseIdList(text: string, flag: string): number[] {
  const ids = text.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (ids.length === 0 || ids.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new OptionError(`${flag} must be comma-separated non-negative token ids, e.g. "1,2,3"; got "${text}"`);
  }
  return ids;
}

export const generateCommand = defineCommand({
  name: 'generate',
  summary: 'continue a prompt with a local causal LM (greedy or sampling)',
  usage: 'pargs generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3 | --messages FILE) [--max-new-tokens N] [--greedy | --temperature T --top-k K --top-p P] [--seed S] [--ignore-eos] [--json]',
  flags: {
    model: { type: 'string', help: 'local Hugging Face model folder', placeholder: 'DIR' },
    prompt: { type: 'string', help: 'prompt text (encoded with the tokenizer’s own BOS rule)', placeholder: 'TEXT' },
    promptIds: { type: 'string', help: 'prompt token ids, used verbatim (no BOS added)', placeholder: '1,2,3' },
    messages: { type: 'string', help: 'conversations rendered with the model’s chat template: a JSON array of {role, content}, or JSONL of such arrays', placeholder: 'FILE' },
    maxNewTokens: { type: 'number', integer: true, min: 0, default: 32, help: 'tokens to generate at most' },
    greedy: { type: 'boolean', help: 'always take the most probable token (the default unless sampling flags are given)' },
    temperature: { type: 'number', min: 0, help: 'sampling temperature (> 0)', placeholder: 'T' },
    topK: { type: 'number', integer: true, min: 1, help: 'sample among the K most probable tokens', placeholder: 'K' },
    topP: { type: 'number', min: 0, max: 1, help: 'nucleus sampling mass', placeholder: 'P' },
    seed: { type: 'number', integer: true, default: 0, help: 'random seed for sampling' },
    ignoreEos: { type: 'boolean', help: 'keep generating past EOS' },
    ignoreGenerationConfig: { type: 'boolean', help: 'decode from raw logits, without generation_config.json processors' },
    json: { type: 'boolean', help: 'print one JSON object {prompt, promptIds, generatedIds, text} per prompt (prompt: the rendered text; absent for --prompt-ids)' },
    backend: { type: 'string', help: 'tensorflow | wasm | cpu | auto', placeholder: 'NAME' },
  },
  async run(flags, _positionals, io) {
    if (!flags.model) throw new OptionError('pargs generate: --model DIR is required');
    const given = [flags.prompt, flags.promptIds, flags.messages].filter((f) => f !== undefined).length;
    if (given !== 1) throw new OptionError('pargs generate: give exactly one of --prompt TEXT, --prompt-ids 1,2,3 or --messages FILE');
    const sampling = flags.temperature !== undefined || flags.topK !== undefined || flags.topP !== undefined;
    if (flags.greedy && sampling) throw new OptionError('pargs generate: --greedy cannot be combined with --temperature, --top-k or --top-p');
    const strategy: DecodeStrategy = sampling
      ? { kind: 'sample', temperature: flags.temperature ?? 1, topK: flags.topK, topP: flags.topP }
      : { kind: 'greedy' };
    const promptIds = flags.promptIds !== undefined ? parseIdList(flags.promptIds, '--prompt-ids') : undefined;
    const prompts: Prompt[] = flags.messages !== undefined ? await readMessagesFile(flags.messages) : flags.prompt !== undefined ? [flags.prompt] : [];
    const lm = await loadCausalLM(flags.model, { backend: flags.backend as 'auto' | undefined });
    try {
      if (flags.messages !== undefined) noteRendering(lm, flags.model, io.err);
      const decode = { maxNewTokens: flags.maxNewTokens, strategy, seed: flags.seed, stopAtEos: !flags.ignoreEos, generationConfig: flags.ignoreGenerationConfig ? 'ignore' : 'apply', json: flags.json } as const;
      if (promptIds) await generateOne(lm, { promptIds }, decode, io);
      for (const prompt of prompts) await generateOne(lm, { prompt }, decode, io);
      return 0;
    } finally {
      lm.dispose();
    }
  },
});

interface DecodeFlags {
  maxNewTokens?: number;
  strategy: DecodeStrategy;
  seed?: number;
  stopAtEos: boolean;
  generationConfig: 'apply' | 'ignore';
  json: boolean;
}

/** Decodes one prompt, streaming its text (or printing one JSON object with --json). */
async function generateOne(lm: CausalLM, input: { prompt?: Prompt; promptIds?: number[] }, f: DecodeFlags, io: CommandIO): Promise<void> {
  const streamed: number[] = [];
  let printed = '';
  const [result] = await generate({
    lm,
    prompts: input.prompt !== undefined ? [input.prompt] : undefined,
    promptIds: input.promptIds ? [input.promptIds] : undefined,
    maxNewTokens: f.maxNewTokens,
    strategy: f.strategy,
    seed: f.seed,
    stopAtEos: f.stopAtEos,
    generationConfig: f.generationConfig,
    signal: io.signal,
    onToken: ({ tokenId }) => {
      if (f.json) return;
      // Decode the whole continuation each time: a single token can be half of a UTF-8 character.
      streamed.push(tokenId);
      const text = lm.tokenizer.decode(streamed);
      if (text.startsWith(printed) && !text.endsWith('\uFFFD')) {
        process.stdout.write(text.slice(printed.length));
        printed = text;
      }
    },
  });
  if (f.json) {
    // The same rendering generate() encoded, so "prompt" is exactly the text the model continued.
    const prompt = input.prompt !== undefined ? { prompt: renderPrompt(lm, input.prompt).text } : {};
    io.out(JSON.stringify({ ...prompt, promptIds: result.promptIds, generatedIds: result.generatedIds, text: result.text }));
  } else {
    if (result.text.startsWith(printed)) process.stdout.write(result.text.slice(printed.length));
    io.out('');
    io.err(`[${result.generatedIds.length} tokens, stopped by ${result.finishReason}]`);
  }
}
