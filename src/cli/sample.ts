/** `pargs sample`: reward-guided (or baseline) decoding, streaming text to stdout. */
import { argsSample, bestOfN } from '../parallel/dispatch.js';
import { renderPrompt, type Prompt } from '../decode/generate.js';
import { generate } from '../parallel/dispatch.js';
import { type GuidedToken } from '../decode/guided.js';
import { guidedSample } from '../parallel/dispatch.js';
import { yieldAndCheck } from '../engine/yield.js';
import { AbortError, OptionError } from '../errors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { loadCausalLM } from '../lm/load.js';
import { loadRewardModel, type PartialRewardModel } from '../reward/reward-model.js';
import { isValueHead } from '../reward/value-head.js';
import { defineCommand, type CommandIO } from './args.js';
import { noteRendering, readMessagesFile, readPromptsFile } from './messages.js';

const METHODS = ['pargs', 'pargs-greedy', 'args', 'args-greedy', 'cd', 'best-of-n', 'plain'] as const;
/** Reward-guided methods: top-k candidates rescored by the reward model (they take --stop). */
const GUIDED: readonly Method[] = ['pargs', 'pargs-greedy', 'args', 'args-greedy', 'cd'];
type Method = (typeof METHODS)[number];

export const sampleCommand = defineCommand({
  name: 'sample',
  summary: 'generate with PARGS, PARGS-G, ARGS, Best-of-N or plain sampling',
  usage: 'pargs sample --model DIR --rm DIR (--prompt TEXT | --prompts FILE | --messages FILE) [--method pargs|pargs-greedy|args|args-greedy|cd|best-of-n|plain] [--beta B] [--top-k K | --exact] [--candidates reference|combined] [--top-p P] [--stop TEXT]... [--n N] [--max-new-tokens N] [--seed S] [--json]',
  flags: {
    model: { type: 'string', help: 'the base LM (π_ref): a local Hugging Face model folder', placeholder: 'DIR' },
    rm: { type: 'string', help: 'reward model: pargs train output on this backbone, or a Hugging Face *ForSequenceClassification folder (on another tokenizer it reads the text: see docs/guide.md)', placeholder: 'DIR' },
    prompt: { type: 'string', help: 'one prompt', placeholder: 'TEXT' },
    prompts: { type: 'string', help: 'a file of prompts: .jsonl/.json (optionally .gz) rows with "prompt" (text or messages) or "messages", else one per line', placeholder: 'FILE' },
    messages: { type: 'string', help: 'conversations rendered with the model’s chat template: a JSON array of {role, content}, or JSONL of such arrays', placeholder: 'FILE' },
    method: { type: 'string', default: 'pargs', help: METHODS.join(' | '), placeholder: 'NAME' },
    beta: { type: 'number', help: 'reward weight β (ARGS: w); default 2 for pargs and cd, 1 otherwise', placeholder: 'B' },
    topK: { type: 'number', integer: true, min: 1, help: 'candidates per step (guided methods); top-k filter of plain and best-of-n (default 10)', placeholder: 'K' },
    exact: { type: 'boolean', help: 'guided methods with a vocabulary reward head: the exact policy over the whole vocabulary (no top-k)' },
    candidates: { type: 'string', default: 'reference', help: 'guided methods: the top-k of π_ref (reference), or of log π_ref + β·R (combined; vocabulary reward heads only, FaRMA)', placeholder: 'WHICH' },
    topP: { type: 'number', min: 0, max: 1, help: 'nucleus filter for plain and best-of-n sampling (guided methods rescore --top-k candidates instead)', placeholder: 'P' },
    stop: { type: 'strings', help: 'end a response at this text, cut before it (guided methods)', placeholder: 'TEXT' },
    temperature: { type: 'number', min: 0, default: 1, help: 'sampling temperature' },
    n: { type: 'number', integer: true, min: 1, default: 4, help: 'samples per prompt for best-of-n' },
    maxNewTokens: { type: 'number', integer: true, min: 1, default: 64, help: 'tokens to generate at most' },
    seed: { type: 'number', integer: true, default: 0, help: 'random seed' },
    json: { type: 'boolean', help: 'JSON lines: one per token, then one result per prompt' },
    backend: { type: 'string', help: 'tensorflow | wasm | cpu | auto', placeholder: 'NAME' },
  },
  async run(flags, _positionals, io) {
    if (!flags.model) throw new OptionError('pargs sample: --model DIR is required');
    if ([flags.prompt, flags.prompts, flags.messages].filter((f) => f !== undefined).length !== 1) {
      throw new OptionError('pargs sample: give exactly one of --prompt TEXT, --prompts FILE or --messages FILE');
    }
    const method = flags.method as Method;
    if (!METHODS.includes(method)) throw new OptionError(`pargs sample: --method must be one of ${METHODS.join(', ')}, got "${flags.method}"`);
    if (method !== 'plain' && !flags.rm) throw new OptionError(`pargs sample: --rm DIR is required for --method ${method}`);
    if (flags.topP !== undefined && (GUIDED.includes(method) || !(flags.topP > 0))) {
      throw new OptionError(GUIDED.includes(method)
        ? `pargs sample: --top-p applies to plain and best-of-n sampling; --method ${method} rescores the --top-k candidates instead`
        : `pargs sample: --top-p must be in (0, 1], got ${flags.topP}`);
    }
    if (flags.candidates !== 'reference' && flags.candidates !== 'combined') {
      throw new OptionError(`pargs sample: --candidates must be reference or combined, got "${flags.candidates}"`);
    }
    if (flags.candidates === 'combined' && !GUIDED.includes(method)) {
      throw new OptionError(`pargs sample: --candidates combined applies to the guided methods (${GUIDED.join(', ')}), not --method ${method}`);
    }
    if (flags.exact && (!GUIDED.includes(method) || flags.topK !== undefined || flags.candidates === 'combined')) {
      throw new OptionError(!GUIDED.includes(method)
        ? `pargs sample: --exact applies to the guided methods (${GUIDED.join(', ')}), not --method ${method}`
        : `pargs sample: --exact keeps every token of the vocabulary, so it takes no ${flags.topK !== undefined ? `--top-k (got ${flags.topK})` : '--candidates combined'}; drop one of them`);
    }
    if (flags.stop.length > 0 && !GUIDED.includes(method)) {
      throw new OptionError(`pargs sample: --stop is supported with the guided methods (${GUIDED.join(', ')}), not --method ${method}`);
    }
    if (flags.stop.some((t) => t === '')) throw new OptionError('pargs sample: --stop needs a non-empty text');
    if (!(flags.temperature! > 0)) throw new OptionError(`pargs sample: --temperature must be positive, got ${flags.temperature}`);
    const prompts: Prompt[] =
      flags.prompt !== undefined ? [flags.prompt] : flags.messages !== undefined ? await readMessagesFile(flags.messages) : await readPromptsFile(flags.prompts as string);
    const lm = await loadCausalLM(flags.model, { backend: flags.backend as 'auto' | undefined });
    let rm: PartialRewardModel | undefined;
    try {
      if (flags.messages !== undefined) noteRendering(lm, flags.model, io.err);
      if (flags.rm && method !== 'plain') {
        rm = await loadRewardModel(flags.rm, lm);
        if (rm.backbone !== lm) io.err(`note: ${flags.rm} has other backbone weights than ${flags.model}, so it runs its own backbone and KV cache (a second forward per token)`);
        if (rm.tokenizer.fingerprint !== lm.tokenizer.fingerprint) io.err(`note: ${flags.rm} reads another tokenizer than ${flags.model}, so it scores the decoded text (the text bridge, docs/guide.md)`);
        if (method === 'cd' && !isValueHead(rm)) {
          throw new OptionError(`pargs sample --method cd needs a CD value head (trainValueHead, saved with rm.save); ${flags.rm} is a ${rm.mode}-sequence Bradley–Terry reward model: use --method ${rm.mode === 'full' ? 'args' : 'pargs'}`);
        }
        if ((method === 'args' || method === 'args-greedy') && rm.mode !== 'full') io.err(`note: ARGS is meant for a full-sequence reward model; ${flags.rm} was trained in ${rm.mode} mode`);
      }
      let finished = 0;
      try {
        for (const prompt of prompts) {
          await yieldAndCheck(io.signal, 'pargs sample');
          await sampleOne(lm, rm, prompt, method, flags, io);
          finished++;
        }
      } catch (err) {
        // Ctrl-C: what finished is already printed; end the half-streamed line and say how far it got.
        if (err instanceof AbortError) {
          if (!flags.json) process.stdout.write('\n');
          io.err(`pargs sample: stopped after ${finished} of ${prompts.length} prompt${prompts.length === 1 ? '' : 's'}`);
        }
        throw err;
      }
      return 0;
    } finally {
      rm?.dispose();
      lm.dispose();
    }
  },
});

interface SampleFlags {
  beta?: number;
  topK?: number;
  exact: boolean;
  candidates?: string;
  topP?: number;
  stop: string[];
  temperature?: number;
  n?: number;
  maxNewTokens?: number;
  seed?: number;
  json: boolean;
}

async function sampleOne(lm: CausalLM, rm: PartialRewardModel | undefined, prompt: Prompt, method: Method, f: SampleFlags, io: CommandIO): Promise<void> {
  const started = performance.now();
  const common = { lm, prompts: [prompt], maxNewTokens: f.maxNewTokens, seed: f.seed, signal: io.signal };
  const streamed: number[] = [];
  let printed = '';
  const show = (tokenId: number, event?: GuidedToken): void => {
    if (f.json) {
      io.out(JSON.stringify(event ? { tokenId, text: event.text, logProb: event.logProb, reward: event.reward } : { tokenId, text: lm.tokenizer.decode([tokenId], { skipSpecialTokens: false }) }));
      return;
    }
    streamed.push(tokenId);
    const text = lm.tokenizer.decode(streamed);
    if (text.startsWith(printed) && !text.endsWith('\uFFFD')) {
      process.stdout.write(text.slice(printed.length));
      printed = text;
    }
  };
  // Plain and Best-of-N draw from the same filtered distribution, so their scores compare like for like.
  const plainStrategy = { kind: 'sample', temperature: f.temperature, topK: f.topK ?? 10, topP: f.topP } as const;
  let result: Record<string, unknown>;
  if (method === 'plain') {
    const [g] = await generate({ ...common, strategy: plainStrategy, onToken: (e) => show(e.tokenId) });
    result = { text: g.text, generatedIds: g.generatedIds, finishReason: g.finishReason };
  } else if (method === 'best-of-n') {
    const [r] = await bestOfN({ ...common, rewardModel: rm as PartialRewardModel, n: f.n, strategy: plainStrategy });
    const best = r.samples[r.best];
    if (!f.json) process.stdout.write(best.text);
    result = { text: best.text, generatedIds: best.generatedIds, reward: best.reward, samples: r.samples.map((s) => ({ text: s.text, reward: s.reward })) };
  } else {
    const beta = f.beta ?? (method === 'pargs' || method === 'cd' ? 2 : 1);
    const greedy = method === 'pargs-greedy' || method === 'args-greedy';
    const exact = f.exact ? { exact: true } : {};
    const mode = greedy ? ({ kind: 'greedy', ...exact } as const) : ({ kind: 'sample', temperature: f.temperature, ...exact } as const);
    const stop = f.stop.length > 0 ? { stop: { strings: f.stop } } : {};
    const guided = { ...common, ...stop, rewardModel: rm as PartialRewardModel, ...(f.exact ? {} : { topK: f.topK ?? 10 }), candidates: f.candidates as 'reference' | 'combined', mode, onToken: (t: GuidedToken) => show(t.tokenId, t) };
    const [g] = method === 'args' || method === 'args-greedy' ? await argsSample({ ...guided, weight: beta }) : await guidedSample({ ...guided, beta });
    const rewards = g.trace.map((t) => t.reward);
    result = { text: g.text, generatedIds: g.generatedIds, finishReason: g.finishReason, meanTokenReward: rewards.reduce((a, b) => a + b, 0) / Math.max(1, rewards.length), ...(g.textBridge ? { textBridge: g.textBridge } : {}) };
  }
  const seconds = (performance.now() - started) / 1000;
  // "prompt" is the text decoded from: a conversation's rendering, the same one the decoder encoded.
  if (f.json) io.out(JSON.stringify({ prompt: renderPrompt(lm, prompt).text, method, ...result, seconds }));
  else {
    if (method !== 'best-of-n' && typeof result.text === 'string' && result.text.startsWith(printed)) process.stdout.write(result.text.slice(printed.length));
    io.out('');
    const bridge = result.textBridge as { rmTokens: number; rmTokensWithoutCache: number } | undefined;
    const saved = bridge ? `; reward model ran ${bridge.rmTokens} tokens, ${bridge.rmTokensWithoutCache} without its cache` : '';
    io.err(`[${method}: ${(result.generatedIds as number[]).length} tokens in ${seconds.toFixed(2)} s${saved}]`);
  }
}
