/** `pargs generate`: plain decoding from a local model, streaming text to stdout. */
import { generate, type DecodeStrategy } from '../decode/generate.js';
import { OptionError } from '../errors.js';
import { loadCausalLM } from '../lm/load.js';
import { defineCommand } from './args.js';

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
  usage: 'pargs generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3) [--max-new-tokens N] [--greedy | --temperature T --top-k K --top-p P] [--seed S] [--ignore-eos] [--json]',
  flags: {
    model: { type: 'string', help: 'local Hugging Face model folder', placeholder: 'DIR' },
    prompt: { type: 'string', help: 'prompt text (encoded with the tokenizer’s own BOS rule)', placeholder: 'TEXT' },
    promptIds: { type: 'string', help: 'prompt token ids, used verbatim (no BOS added)', placeholder: '1,2,3' },
    maxNewTokens: { type: 'number', integer: true, min: 0, default: 32, help: 'tokens to generate at most' },
    greedy: { type: 'boolean', help: 'always take the most probable token (the default unless sampling flags are given)' },
    temperature: { type: 'number', min: 0, help: 'sampling temperature (> 0)', placeholder: 'T' },
    topK: { type: 'number', integer: true, min: 1, help: 'sample among the K most probable tokens', placeholder: 'K' },
    topP: { type: 'number', min: 0, max: 1, help: 'nucleus sampling mass', placeholder: 'P' },
    seed: { type: 'number', integer: true, default: 0, help: 'random seed for sampling' },
    ignoreEos: { type: 'boolean', help: 'keep generating past EOS' },
    ignoreGenerationConfig: { type: 'boolean', help: 'decode from raw logits, without generation_config.json processors' },
    json: { type: 'boolean', help: 'print one JSON object {promptIds, generatedIds, text} as the last line' },
    backend: { type: 'string', help: 'tensorflow | wasm | cpu | auto', placeholder: 'NAME' },
  },
  async run(flags, _positionals, io) {
    if (!flags.model) throw new OptionError('pargs generate: --model DIR is required');
    if ((flags.prompt === undefined) === (flags.promptIds === undefined)) {
      throw new OptionError('pargs generate: give exactly one of --prompt TEXT or --prompt-ids 1,2,3');
    }
    const sampling = flags.temperature !== undefined || flags.topK !== undefined || flags.topP !== undefined;
    if (flags.greedy && sampling) throw new OptionError('pargs generate: --greedy cannot be combined with --temperature, --top-k or --top-p');
    const strategy: DecodeStrategy = sampling
      ? { kind: 'sample', temperature: flags.temperature ?? 1, topK: flags.topK, topP: flags.topP }
      : { kind: 'greedy' };
    const lm = await loadCausalLM(flags.model, { backend: flags.backend as 'auto' | undefined });
    try {
      const promptIds = flags.promptIds !== undefined ? [parseIdList(flags.promptIds, '--prompt-ids')] : undefined;
      const streamed: number[] = [];
      let printed = '';
      const [result] = await generate({
        lm,
        prompts: flags.prompt !== undefined ? [flags.prompt] : undefined,
        promptIds,
        maxNewTokens: flags.maxNewTokens,
        strategy,
        seed: flags.seed,
        stopAtEos: !flags.ignoreEos,
        generationConfig: flags.ignoreGenerationConfig ? 'ignore' : 'apply',
        signal: io.signal,
        onToken: ({ tokenId }) => {
          if (flags.json) return;
          // Decode the whole continuation each time: a single token can be half of a UTF-8 character.
          streamed.push(tokenId);
          const text = lm.tokenizer.decode(streamed);
          if (text.startsWith(printed) && !text.endsWith('\uFFFD')) {
            process.stdout.write(text.slice(printed.length));
            printed = text;
          }
        },
      });
      if (flags.json) {
        io.out(JSON.stringify({ promptIds: result.promptIds, generatedIds: result.generatedIds, text: result.text }));
      } else {
        if (result.text.startsWith(printed)) process.stdout.write(result.text.slice(printed.length));
        io.out('');
        io.err(`[${result.generatedIds.length} tokens, stopped by ${result.finishReason}]`);
      }
      return 0;
    } finally {
      lm.dispose();
    }
  },
});
