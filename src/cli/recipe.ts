/**
 * `pargs recipe hh|tldr`: one of the paper's experiments, end to end, on any local model folder.
 * 1. read the preference file, hold out test prompts (or read --prompts), apply the recipe's pair filter;
 * 2. train the partial RM (PARGS), the full-sequence RM (ARGS, Best-of-N, and the judge of the average
 *    reward) and the CD value head, each into its own folder under --out;
 * 3. decode the test prompts with plain top-k sampling, Best-of-N, ARGS, CD, PARGS and PARGS-G at the
 *    recipe's settings (recipe-settings.ts), cutting at its stop strings;
 * 4. score every response with the full-sequence RM (and --judge-rm when given), write
 *    generations.jsonl and results.json, print a table.
 */
import { join } from 'node:path';
import { argsSample } from '../parallel/dispatch.js';
import { generate } from '../parallel/dispatch.js';
import { guidedSample } from '../parallel/dispatch.js';
import { encodePreferences, formatDropReport, loadPreferences, splitPairs } from '../data/index.js';
import type { PreferencePair } from '../data/types.js';
import { yieldAndCheck } from '../engine/yield.js';
import { OptionError } from '../errors.js';
import { argsDiversity, meanWithStderr, type MeanWithError } from '../eval/metrics.js';
import { writeFileAtomic } from '../io/atomic.js';
import { guardOutput } from '../io/fs-errors.js';
import { claimOutputDir } from '../io/output-dir.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { loadCausalLM } from '../lm/load.js';
import { createRng } from '../random.js';
import type { TokenPair } from '../reward/prefixes.js';
import { loadRewardModel, type PartialRewardModel } from '../reward/reward-model.js';
import { trainPartialRM } from '../parallel/dispatch.js';
import { trainValueHead } from '../parallel/dispatch.js';
import { defineCommand } from './args.js';
import { RECIPE_SETTINGS, RECIPES, type RecipeName, type RecipeSettings } from './recipe-settings.js';
import { readPromptsFile } from './messages.js';

export const RECIPE_METHODS = ['plain', 'best-of-n', 'args', 'cd', 'pargs', 'pargs-greedy'] as const;
type Method = (typeof RECIPE_METHODS)[number];

interface Response {
  text: string;
  tokens: number;
  finishReason: string;
}

/** The text before the first stop string (responses of methods that cannot stop on a string). */
export function cutAtStop(text: string, stops: readonly string[]): { text: string; stopped: boolean } {
  let cut = text.length;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && i < cut) cut = i;
  }
  return { text: text.slice(0, cut), stopped: cut < text.length };
}

const seededSubsample = <T>(items: readonly T[], n: number, seed: number): T[] => {
  const rng = createRng(seed, 'max-pairs');
  return items.map((p) => ({ p, key: rng() })).sort((a, b) => a.key - b.key).slice(0, n).map((x) => x.p);
};

export const recipeCommand = defineCommand({
  name: 'recipe',
  summary: "run one of the paper's experiments (hh | tldr) end to end on a local model",
  usage: 'pargs recipe hh|tldr --model DIR --data FILE --out DIR [--prompts FILE | --test N] [--max-pairs N] [--epochs N] [--batch-size N] [--lr X] [--n N] [--max-new-tokens N] [--methods LIST] [--judge-rm DIR] [--seed S] [--overwrite] [--json]',
  positionals: ['hh|tldr'],
  flags: {
    model: { type: 'string', help: 'π_ref and the reward models’ frozen backbone: a local Hugging Face model folder', placeholder: 'DIR' },
    data: { type: 'string', help: 'preference pairs: HH-RLHF dialogues (hh); summarize-from-feedback comparisons or TRL rows (tldr)', placeholder: 'FILE' },
    out: { type: 'string', help: 'output folder (new, empty or an earlier recipe run): reward models, generations.jsonl, results.json', placeholder: 'DIR' },
    prompts: { type: 'string', help: 'test prompts (.jsonl with "prompt", or one per line); default: hold out --test pairs of --data', placeholder: 'FILE' },
    test: { type: 'number', integer: true, min: 1, default: 100, help: 'prompts held out of --data for decoding when --prompts is not given (their pairs also give the RMs’ diagnostics)' },
    maxPairs: { type: 'number', integer: true, min: 1, help: 'training pairs used at most, a seeded subsample (tldr default 8192)' },
    epochs: { type: 'number', integer: true, min: 1, default: 1, help: 'epochs of every reward model (the paper: 1)' },
    batchSize: { type: 'number', integer: true, min: 1, default: 256, help: 'prefix pairs per step (the paper: 256)' },
    lr: { type: 'number', min: 0, default: 1e-3, help: 'peak learning rate of the reward heads' },
    n: { type: 'number', integer: true, min: 1, default: 4, help: 'samples per prompt of Best-of-N' },
    maxNewTokens: { type: 'number', integer: true, min: 1, help: 'tokens per response (default: the recipe’s, 128 hh / 64 tldr)' },
    methods: { type: 'string', default: RECIPE_METHODS.join(','), help: `comma-separated subset of ${RECIPE_METHODS.join(', ')}`, placeholder: 'LIST' },
    judgeRm: { type: 'string', help: 'a further pargs reward model on this backbone that scores every response (guides nothing)', placeholder: 'DIR' },
    seed: { type: 'number', integer: true, default: 0, help: 'seed for the split, subsample, training and sampling' },
    overwrite: { type: 'boolean', help: 'replace an earlier recipe run in --out' },
    json: { type: 'boolean', help: 'print results.json as one JSON line' },
    backend: { type: 'string', help: 'tensorflow | wasm | cpu | auto', placeholder: 'NAME' },
  },
  async run(flags, positionals, io) {
    const name = positionals[0] as RecipeName;
    if (positionals.length !== 1 || !RECIPES.includes(name)) throw new OptionError(`pargs recipe: name one recipe, ${RECIPES.join(' or ')}; got ${positionals.length ? `"${positionals.join(' ')}"` : 'none'}`);
    for (const key of ['model', 'data', 'out'] as const) if (!flags[key]) throw new OptionError(`pargs recipe ${name}: --${key} is required`);
    const methods = (flags.methods as string).split(',').map((m) => m.trim()) as Method[];
    const unknownMethod = methods.find((m) => !RECIPE_METHODS.includes(m));
    if (unknownMethod !== undefined || methods.length === 0) throw new OptionError(`pargs recipe: --methods must list some of ${RECIPE_METHODS.join(', ')}; got "${unknownMethod ?? flags.methods}"`);
    const s = RECIPE_SETTINGS[name];
    const maxNewTokens = flags.maxNewTokens ?? s.maxNewTokens;
    const claimed = await claimOutputDir(flags.out as string, { kind: 'recipe', what: `pargs recipe ${name} --out`, overwrite: flags.overwrite, protect: [flags.model as string] });
    const lm = await loadCausalLM(flags.model as string, { backend: flags.backend as 'auto' | undefined });
    const rms: PartialRewardModel[] = [];
    try {
      io.err(`pargs recipe ${name}: ${s.title}; ${flags.model} (${lm.config.modelType}, d ${lm.config.hiddenSize}) on ${lm.backend.description}`);
      const seed = flags.seed as number;
      const set = await loadPreferences(flags.data as string, { format: s.format, signal: io.signal });
      let trainText: readonly PreferencePair[] = set.pairs;
      let heldOut: readonly PreferencePair[] = [];
      if (!flags.prompts) {
        if (set.pairs.length <= (flags.test as number)) throw new OptionError(`pargs recipe: --data has ${set.pairs.length} pairs, not more than --test ${flags.test}; lower --test or give --prompts FILE`);
        ({ train: trainText, eval: heldOut } = splitPairs(set.pairs, { evalCount: flags.test as number, seed }));
      }
      const testPrompts = flags.prompts ? textPrompts(await readPromptsFile(flags.prompts), flags.prompts) : heldOut.map((p) => p.prompt);
      const maxLength = Math.min(s.maxLength, lm.config.maxPositions);
      const encoded = encodePreferences(trainText as PreferencePair[], lm.tokenizer, { maxLength });
      io.err(`${flags.data} (${set.format}): ${formatDropReport(encoded.report)}`);
      let train: TokenPair[] = encoded.pairs;
      if (s.skipPairsUpTo > 0) {
        const before = train.length;
        train = train.filter((p) => Math.max(p.chosenIds.length, p.rejectedIds.length) > s.skipPairsUpTo);
        io.err(`skipped ${before - train.length} of ${before} pairs whose responses have ≤ ${s.skipPairsUpTo} tokens (the ${name} recipe's filter)`);
      }
      const maxPairs = flags.maxPairs ?? s.maxPairs;
      if (maxPairs !== undefined && train.length > maxPairs) {
        train = seededSubsample(train, maxPairs, seed);
        io.err(`using a seeded subsample of ${maxPairs} training pairs`);
      }
      if (train.length === 0) throw new OptionError(`pargs recipe ${name}: no training pair is left (see the counts above)`);
      const evalPairs = heldOut.length ? encodePreferences(heldOut as PreferencePair[], lm.tokenizer, { maxLength }).pairs : undefined;

      const common = { backbone: lm, pairs: train, evalPairs, epochs: flags.epochs, batchSize: flags.batchSize, lr: flags.lr, seed, overwrite: flags.overwrite, signal: io.signal };
      io.err(`training the partial RM (PARGS) on ${train.length} pairs → ${join(claimed.dir, 'rm-partial')}`);
      const partial = await trainPartialRM({ ...common, mode: 'partial', minPrefix: s.minPrefix, checkpointDir: join(claimed.dir, 'rm-partial') });
      rms.push(partial);
      io.err(`training the full-sequence RM (ARGS, Best-of-N, the average-reward judge) → ${join(claimed.dir, 'rm-full')}`);
      const full = await trainPartialRM({ ...common, mode: 'full', checkpointDir: join(claimed.dir, 'rm-full') });
      rms.push(full);
      let cd: PartialRewardModel | undefined;
      if (methods.includes('cd')) {
        const scores = await full.scoreIdsBatch(train.flatMap((p) => [{ promptIds: p.promptIds, responseIds: p.chosenIds }, { promptIds: p.promptIds, responseIds: p.rejectedIds }]));
        io.err(`training the CD value head (MSE onto the full RM's score of each response) → ${join(claimed.dir, 'rm-cd')}`);
        cd = await trainValueHead({ backbone: lm, pairs: train, targets: train.map((_, i) => [scores[2 * i], scores[2 * i + 1]]), epochs: flags.epochs, batchSize: flags.batchSize, lr: flags.lr, seed, signal: io.signal });
        rms.push(cd);
        await cd.save(join(claimed.dir, 'rm-cd'), { overwrite: flags.overwrite });
      }
      const judge = flags.judgeRm ? await loadRewardModel(flags.judgeRm, lm) : undefined;
      if (judge) rms.push(judge);

      const prompts = testPrompts.map((p) => s.promptPrefix + p);
      const fits = prompts.filter((p) => lm.tokenizer.encode(p).length + maxNewTokens <= lm.config.maxPositions);
      if (fits.length < prompts.length) io.err(`left out ${prompts.length - fits.length} of ${prompts.length} test prompts: prompt + ${maxNewTokens} new tokens exceed the model's context of ${lm.config.maxPositions}`);
      if (fits.length === 0) throw new OptionError(`pargs recipe ${name}: no test prompt fits the model's context with ${maxNewTokens} new tokens; lower --max-new-tokens`);
      const decoded = new Map<Method, { responses: Response[]; seconds: number }>();
      for (const method of methods) {
        io.err(`decoding ${fits.length} prompts with ${method}`);
        const t0 = performance.now();
        const responses = await decodeAll(lm, method, fits, { s, maxNewTokens, n: flags.n as number, seed, partial, full, cd, signal: io.signal });
        decoded.set(method, { responses, seconds: (performance.now() - t0) / 1000 });
      }

      io.err('scoring every response with the full-sequence RM' + (judge ? ' and --judge-rm' : ''));
      const rows: Record<string, unknown>[] = [];
      const summary: Record<string, { fullRm: MeanWithError; judgeRm?: MeanWithError; argsDiversity: number; tokensPerSecond: number; stopped: number }> = {};
      for (const [method, { responses, seconds }] of decoded) {
        const items = fits.map((p, i) => full.encode(p, responses[i].text));
        const fullScores = await full.scoreIdsBatch(items);
        const judgeScores = judge ? await judge.scoreIdsBatch(items) : undefined;
        responses.forEach((r, i) => rows.push({ method, prompt: fits[i], response: r.text, finishReason: r.finishReason, fullRm: fullScores[i], ...(judgeScores ? { judgeRm: judgeScores[i] } : {}) }));
        summary[method] = {
          fullRm: meanWithStderr(fullScores),
          ...(judgeScores ? { judgeRm: meanWithStderr(judgeScores) } : {}),
          argsDiversity: argsDiversity(responses.map((r) => r.text)),
          tokensPerSecond: responses.reduce((n, r) => n + r.tokens, 0) / seconds,
          stopped: responses.filter((r) => r.finishReason === 'stop').length,
        };
      }
      const results = { recipe: name, settings: { ...s, maxNewTokens, n: flags.n, epochs: flags.epochs, batchSize: flags.batchSize, lr: flags.lr, seed }, trainPairs: train.length, testPrompts: fits.length, methods: summary };
      await guardOutput(claimed.dir, async () => {
        await writeFileAtomic(join(claimed.dir, 'generations.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
        await writeFileAtomic(join(claimed.dir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
      });
      await claimed.markComplete();
      if (flags.json) io.out(JSON.stringify(results));
      else io.out(resultTable(summary, judge !== undefined));
      return 0;
    } finally {
      for (const rm of rms) rm.dispose();
      lm.dispose();
      await claimed.release();
    }
  },
});

interface DecodeContext {
  s: RecipeSettings;
  maxNewTokens: number;
  n: number;
  seed: number;
  partial: PartialRewardModel;
  full: PartialRewardModel;
  cd?: PartialRewardModel;
  signal: AbortSignal;
}

const BATCH = 8;

async function decodeAll(lm: CausalLM, method: Method, prompts: readonly string[], c: DecodeContext): Promise<Response[]> {
  const out: Response[] = [];
  const sampleTopK = { kind: 'sample', temperature: 1, topK: c.s.topK } as const;
  const stop = { eos: true, strings: c.s.stopStrings };
  const cut = (text: string, tokens: number, finishReason: string): Response => {
    const r = cutAtStop(text, c.s.stopStrings);
    return { text: r.text, tokens, finishReason: r.stopped ? 'stop' : finishReason };
  };
  for (let start = 0; start < prompts.length; start += BATCH) {
    await yieldAndCheck(c.signal, 'pargs recipe');
    const batch = prompts.slice(start, start + BATCH);
    const seed = c.seed + start;
    const guided = { lm, prompts: batch, topK: c.s.topK, maxNewTokens: c.maxNewTokens, stop, seed, signal: c.signal };
    if (method === 'plain') {
      for (const g of await generate({ lm, prompts: batch, maxNewTokens: c.maxNewTokens, strategy: sampleTopK, seed, signal: c.signal })) out.push(cut(g.text, g.generatedIds.length, g.finishReason));
    } else if (method === 'best-of-n') {
      // N genuine samples per prompt, each cut at the stop strings before the full RM ranks it.
      const rows = batch.flatMap((p) => new Array<string>(c.n).fill(p));
      const samples = (await generate({ lm, prompts: rows, maxNewTokens: c.maxNewTokens, strategy: sampleTopK, seed, signal: c.signal })).map((g) => cut(g.text, g.generatedIds.length, g.finishReason));
      const rewards = await c.full.scoreIdsBatch(samples.map((r, i) => c.full.encode(rows[i], r.text)));
      for (let i = 0; i < batch.length; i++) {
        let best = i * c.n;
        for (let j = best + 1; j < (i + 1) * c.n; j++) if (rewards[j] > rewards[best]) best = j;
        out.push({ ...samples[best], tokens: samples.slice(i * c.n, (i + 1) * c.n).reduce((n, r) => n + r.tokens, 0) });
      }
    } else {
      const results =
        method === 'args' ? await argsSample({ ...guided, rewardModel: c.full, weight: c.s.argsWeight, mode: { kind: 'greedy' } })
        : method === 'pargs-greedy' ? await guidedSample({ ...guided, rewardModel: c.partial, beta: c.s.pargsGreedyBeta, mode: { kind: 'greedy' } })
        : await guidedSample({ ...guided, rewardModel: method === 'cd' ? (c.cd as PartialRewardModel) : c.partial, beta: c.s.pargsBeta, mode: { kind: 'sample', temperature: 1 } });
      for (const g of results) out.push({ text: g.text, tokens: g.generatedIds.length, finishReason: g.finishReason });
    }
  }
  return out;
}

function resultTable(summary: Record<string, { fullRm: MeanWithError; judgeRm?: MeanWithError; argsDiversity: number; tokensPerSecond: number; stopped: number }>, withJudge: boolean): string {
  const header = ['method', 'full-RM reward (± s.e.)', ...(withJudge ? ['judge-RM reward (± s.e.)'] : []), 'ARGS diversity', 'tokens/s', 'stopped at a stop string'];
  const rows = Object.entries(summary).map(([m, r]) => [m, `${r.fullRm.mean.toFixed(3)} ± ${r.fullRm.stderr.toFixed(3)}`, ...(r.judgeRm ? [`${r.judgeRm.mean.toFixed(3)} ± ${r.judgeRm.stderr.toFixed(3)}`] : []), r.argsDiversity.toFixed(3), r.tokensPerSecond.toFixed(0), String(r.stopped)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** The recipes decode text prompts (their templates are the papers' transcripts), not message lists. */
function textPrompts(prompts: readonly (string | readonly { role: string; content: string }[])[], file: string): string[] {
  return prompts.map((p, i) => {
    if (typeof p !== 'string') throw new OptionError(`pargs recipe: --prompts ${file}: prompt ${i + 1} is a message list; the recipes take text prompts (their prompt template is the paper's)`);
    return p;
  });
}
