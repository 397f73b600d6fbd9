/** `pargs score`: rewards of (prompt, response) rows from any reward model (a pargs RM or an HF folder). */
import { yieldEvery } from '../engine/yield.js';
import { OptionError } from '../errors.js';
import { defineCommand } from './args.js';
import { readGenerations, type GenerationRow } from './eval.js';
import { encodeRowsWithinContext, loadRewardModelFlags } from './reward-model-flag.js';

export const scoreCommand = defineCommand({
  name: 'score',
  summary: 'rewards of (prompt, response) rows from a reward model (pargs or Hugging Face)',
  usage: 'pargs score --rm DIR [--model DIR] (--prompt TEXT --response TEXT | --data FILE) [--prefixes] [--json]',
  flags: {
    rm: { type: 'string', help: 'a reward model: pargs train output (needs --model) or a Hugging Face *ForSequenceClassification folder', placeholder: 'DIR' },
    model: { type: 'string', help: 'the backbone a pargs reward model was trained on (optional for an HF folder)', placeholder: 'DIR' },
    prompt: { type: 'string', help: 'one prompt (with --response)', placeholder: 'TEXT' },
    response: { type: 'string', help: 'the response to score (with --prompt)', placeholder: 'TEXT' },
    data: { type: 'string', help: 'JSON lines {prompt, response (or text)}, e.g. pargs sample --json output', placeholder: 'FILE' },
    prefixes: { type: 'boolean', help: 'also print the reward after every response token' },
    json: { type: 'boolean', help: 'one JSON object per row: {prompt, response, reward[, prefixRewards]}' },
    backend: { type: 'string', help: 'tensorflow | wasm | cpu | auto', placeholder: 'NAME' },
  },
  async run(flags, _positionals, io) {
    if (!flags.rm) throw new OptionError('pargs score: --rm DIR is required');
    const single = flags.prompt !== undefined || flags.response !== undefined;
    if (single === (flags.data !== undefined)) throw new OptionError('pargs score: give either --prompt TEXT --response TEXT, or --data FILE');
    if (single && (flags.prompt === undefined || flags.response === undefined)) throw new OptionError('pargs score: --prompt and --response go together');
    const rows: GenerationRow[] = single ? [{ prompt: flags.prompt as string, response: flags.response as string, method: 'all' }] : await readGenerations(flags.data as string, '--data');
    const loaded = await loadRewardModelFlags(flags.rm, flags.model, flags.backend as 'auto' | undefined);
    try {
      const { rm } = loaded;
      const items = encodeRowsWithinContext('score', rm, rows, flags.data);
      const turn = yieldEvery(20, io.signal, 'pargs score');
      for (const [i, row] of rows.entries()) {
        await turn();
        const { promptIds, responseIds } = items[i];
        const prefixRewards = await rm.scorePrefixIds(promptIds, responseIds);
        if (prefixRewards.length === 0) throw new OptionError(`pargs score: row ${i + 1}'s response encodes to no tokens, so it has no reward`);
        const reward = prefixRewards[prefixRewards.length - 1];
        if (flags.json) {
          io.out(JSON.stringify({ prompt: row.prompt, response: row.response, reward, ...(flags.prefixes ? { prefixRewards } : {}) }));
          continue;
        }
        io.out(`${rows.length > 1 ? `${i + 1}\t` : ''}${reward.toFixed(6)}`);
        if (flags.prefixes) {
          responseIds.forEach((id, t) => io.out(`  ${String(t + 1).padStart(4)} ${JSON.stringify(rm.tokenizer.decode([id], { skipSpecialTokens: false }))}\t${prefixRewards[t].toFixed(6)}`));
        }
      }
      return 0;
    } finally {
      loaded.dispose();
    }
  },
});
