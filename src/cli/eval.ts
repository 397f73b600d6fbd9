/** `pargs eval`: score saved generations with a judge; per-method reward ± s.e., win rate, diversity. */
import { readFile } from 'node:fs/promises';
import { yieldEvery } from '../engine/yield.js';
import { OptionError } from '../errors.js';
import { builtinJudge, BUILTIN_JUDGES, rewardModelJudge } from '../eval/judges.js';
import { encodeRowsWithinContext, loadRewardModelFlags } from './reward-model-flag.js';
import { responseLogProbs, perplexity } from '../eval/lm-scores.js';
import { distinctN, diversity, meanWithStderr, winRate } from '../eval/metrics.js';
import { loadCausalLM } from '../lm/load.js';
import { defineCommand } from './args.js';
import { cliProgress } from './progress.js';

export interface GenerationRow {
  prompt: string;
  response: string;
  method: string;
}

/** JSON lines with `prompt` and `response` (or `text`), optionally `method` — what `pargs sample --json` prints. */
export async function readGenerations(file: string, flag = '--generations'): Promise<GenerationRow[]> {
  let text: string;
  try {
    // A byte-order mark (editors on Windows write one) is not part of the first line's JSON.
    text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  } catch {
    throw new OptionError(`${flag} file "${file}" cannot be read`);
  }
  const rows: GenerationRow[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line);
    } catch {
      throw new OptionError(`${file} line ${i + 1} is not valid JSON`);
    }
    // `pargs sample --json` also prints per-token lines; only result lines carry a prompt.
    if (row.prompt === undefined && row.tokenId !== undefined) return;
    const response = row.response ?? row.text;
    if (typeof row.prompt !== 'string' || typeof response !== 'string') throw new OptionError(`${file} line ${i + 1}: expected {"prompt": string, "response" (or "text"): string, "method"?: string}`);
    rows.push({ prompt: row.prompt, response, method: typeof row.method === 'string' ? row.method : 'all' });
  });
  if (rows.length === 0) throw new OptionError(`${file} holds no generations`);
  return rows;
}

export const evalCommand = defineCommand({
  name: 'eval',
  summary: 'score generations with a judge: reward ± s.e., win rate, diversity (and perplexity with --model)',
  usage: 'pargs eval --generations FILE (--judge NAME | --judge-rm DIR) [--baseline METHOD] [--model DIR] [--json]',
  flags: {
    generations: { type: 'string', help: 'JSON lines {prompt, response|text, method?}', placeholder: 'FILE' },
    judge: { type: 'string', help: `built-in judge: ${BUILTIN_JUDGES.join(', ')} (default afinn; not with --judge-rm)`, placeholder: 'NAME' },
    judgeRm: { type: 'string', help: 'judge with a reward model instead: a Hugging Face *ForSequenceClassification folder, or a pargs reward model on --model', placeholder: 'DIR' },
    baseline: { type: 'string', help: 'method the win rates compare against (same prompts, same order; default plain, when the file has it)', placeholder: 'METHOD' },
    model: { type: 'string', help: 'base model folder: adds the perplexity of the responses under it', placeholder: 'DIR' },
    json: { type: 'boolean', help: 'print one JSON object' },
  },
  async run(flags, _positionals, io) {
    if (!flags.generations) throw new OptionError('pargs eval: --generations FILE is required');
    const rows = await readGenerations(flags.generations);
    const methods = [...new Set(rows.map((r) => r.method))];
    if (flags.judgeRm && flags.judge !== undefined) {
      throw new OptionError(`pargs eval: --judge ${flags.judge} and --judge-rm ${flags.judgeRm} are two judges; give one`);
    }
    if (flags.baseline !== undefined && !methods.includes(flags.baseline)) {
      throw new OptionError(`pargs eval: --baseline ${flags.baseline} is not a method of ${flags.generations} (its methods: ${methods.join(', ')}); give one of them, or no --baseline`);
    }
    const baseline = flags.baseline ?? 'plain';
    const scores = new Map<string, number[]>();
    // A pargs reward model as judge reads the --model backbone; an HF folder carries its own.
    const judgeRm = flags.judgeRm ? await loadRewardModelFlags(flags.judgeRm, flags.model) : undefined;
    const judgeName = flags.judgeRm ? `reward model ${flags.judgeRm}` : (flags.judge ?? 'afinn');
    const progress = cliProgress(io, { json: flags.json });
    try {
      if (judgeRm) encodeRowsWithinContext('eval', judgeRm.rm, rows, flags.generations);
      const judge = judgeRm ? rewardModelJudge(judgeRm.rm) : builtinJudge(flags.judge ?? 'afinn');
      const judgingTurn = yieldEvery(20, io.signal, 'pargs eval');
      let judged = 0;
      for (const m of methods) {
        const list: number[] = [];
        for (const r of rows.filter((x) => x.method === m)) {
          await judgingTurn();
          list.push(await judge(r.prompt, r.response));
          progress({ kind: 'progress', stage: `judging (${judgeName})`, unit: 'response', done: ++judged, total: rows.length });
        }
        scores.set(m, list);
      }
    } finally {
      judgeRm?.dispose();
    }
    const lm = flags.model ? await loadCausalLM(flags.model) : undefined;
    try {
      const results = [];
      for (const m of methods) {
        const mine = rows.filter((r) => r.method === m);
        if (lm) progress({ kind: 'stage', stage: `perplexity of ${m} (${mine.length} responses) under ${flags.model}` });
        const base = scores.get(baseline);
        const comparable = base && m !== baseline && base.length === mine.length && rows.filter((r) => r.method === baseline).every((r, i) => r.prompt === mine[i].prompt);
        const ppl = lm
          ? perplexity(await responseLogProbs(lm, mine.map((r) => ({ promptIds: lm.tokenizer.encode(r.prompt), responseIds: lm.tokenizer.encode(r.response, { addSpecialTokens: false }) })).filter((x) => x.responseIds.length > 0), { signal: io.signal }))
          : undefined;
        results.push({
          method: m,
          n: mine.length,
          reward: meanWithStderr(scores.get(m) as number[]),
          winVsBaseline: comparable ? winRate(scores.get(m) as number[], base) : undefined,
          diversity: diversity(mine.map((r) => r.response)),
          distinct2: distinctN(mine.map((r) => r.response), 2),
          perplexity: ppl,
        });
      }
      if (flags.json) io.out(JSON.stringify({ judge: judgeName, baseline, results }));
      else {
        io.out(`judge: ${judgeName}`);
        for (const r of results) {
          const win = r.winVsBaseline ? `  win/tie/lose vs ${baseline} ${r.winVsBaseline.win.toFixed(2)}/${r.winVsBaseline.tie.toFixed(2)}/${r.winVsBaseline.lose.toFixed(2)}` : '';
          const ppl = r.perplexity === undefined ? '' : `  perplexity ${r.perplexity.toFixed(2)}`;
          io.out(`${r.method.padEnd(14)} n ${r.n}  reward ${r.reward.mean.toFixed(4)} ± ${r.reward.stderr.toFixed(4)}  diversity ${r.diversity.toFixed(3)}  distinct-2 ${r.distinct2.toFixed(3)}${ppl}${win}`);
        }
      }
      return 0;
    } finally {
      lm?.dispose();
    }
  },
});
