/**
 * Writes data/sotu-pairs.jsonl, the small preference file shipped with the package for the quick start:
 * for each training prompt of the bundled model (models/sotu-lm/prompts.json), two 24-token samples of
 * the model, the one the AFINN lexicon scores higher as `chosen` (ties dropped and counted). Text is
 * decoded from the sampled ids, so a user's re-encoding can differ from the sampled ids at BPE seams.
 *   npx tsx scripts/make-sotu-pairs.ts [SEED]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afinnJudge, loadCausalLM } from '../src/index.js';
import { buildPreferencePairs } from '../src/demo/preferences.js';

const seed = Number(process.argv[2] ?? 7);
const dir = 'models/sotu-lm';
const prompts: string[] = JSON.parse(readFileSync(`${dir}/prompts.json`, 'utf8')).train;
const lm = await loadCausalLM(dir);
const built = await buildPreferencePairs({ lm, prompts, judge: afinnJudge(), responseTokens: 24, topK: 10, seed });
const text = (ids: readonly number[]): string => lm.tokenizer.decode([...ids]);
const rows = built.pairs.map((p) => ({ prompt: text(p.promptIds), chosen: text(p.chosenIds), rejected: text(p.rejectedIds) }));
writeFileSync('data/sotu-pairs.jsonl', rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
console.error(`wrote ${rows.length} pairs from ${prompts.length} prompts (${built.ties} ties dropped), seed ${seed}`);
lm.dispose();
