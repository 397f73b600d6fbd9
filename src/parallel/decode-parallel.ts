/**
 * Multi-prompt decoding on worker threads: the prompt list is cut into contiguous chunks, one per
 * worker, and each chunk decodes on its worker exactly as its rows would in the whole batch:
 * - randomness: row r of the whole list draws from stream `decode:r` (`firstRow` = the chunk's start);
 * - numbers: a row's results depend on its left padding, not on the rows beside it, so each chunk is
 *   padded to the length of the longest prompt of the whole list (`PaddedCausalLM`).
 * Hence n workers give bit-identical results to one thread, for any n.
 */
import type { BestOfNOptions, BestOfNResult } from '../decode/baselines.js';
import type { GenerateOptions, Generation } from '../decode/generate.js';
import type { GuidedGeneration, GuidedSampleOptions, GuidedToken } from '../decode/guided.js';
import type { CausalLM } from '../lm/causal-lm.js';
import type { PartialRewardModel } from '../reward/reward-model.js';
import { resolveWorkers } from './count.js';
import { rewardModelInit, weightBytes } from './models.js';
import { runOnWorkers } from './pool.js';
import type { Task, WorkerInit } from './protocol.js';

/** Below this many prompts per worker, starting workers (each loads the model) costs more than it saves. */
export const MIN_ROWS_PER_WORKER = 4;

const longest = (prompts: number[][]): number => Math.max(...prompts.map((p) => p.length));

interface Chunk {
  start: number;
  rows: number[][];
}

/**
 * How many workers to use for `rows` prompts: 1 (this thread) for short lists, in-memory models, and
 * (by default) small calls; `tokensPerRow` is how many tokens one prompt makes the models run.
 */
function decodeWorkers(models: readonly CausalLM[], rows: number, tokensPerRow: number, option: number | undefined): number {
  if (models.some((m) => !m.source)) return 1;
  const byRows = Math.floor(rows / MIN_ROWS_PER_WORKER);
  if (byRows < 2) return 1;
  const distinct = [...new Set(models)];
  const work = rows * tokensPerRow * distinct.reduce((s, m) => s + m.parameterCount, 0);
  return Math.min(resolveWorkers(option, work, distinct.reduce((s, m) => s + weightBytes(m), 0)), byRows);
}

/** `n` contiguous chunks of near-equal size, each a multiple of `multiple` prompts (but the last). */
function chunksOf(prompts: number[][], n: number, multiple = 1): Chunk[] {
  const size = Math.ceil(prompts.length / n / multiple) * multiple;
  const chunks: Chunk[] = [];
  for (let start = 0; start < prompts.length; start += size) chunks.push({ start, rows: prompts.slice(start, start + size) });
  return chunks;
}

async function runChunks<R>(o: { workers: number; init: WorkerInit; chunks: Chunk[]; tasks: Task[]; what: string; signal?: AbortSignal; onEvent?: (chunk: Chunk, event: unknown) => void }): Promise<R[][]> {
  const results: R[][] = o.chunks.map(() => []);
  await runOnWorkers({
    workers: o.workers,
    init: o.init,
    tasks: o.tasks,
    what: o.what,
    signal: o.signal,
    onResult: (i, value) => (results[i] = value as R[]),
    onEvent: o.onEvent && ((i, event) => o.onEvent?.(o.chunks[i], event)),
  });
  return results;
}

/** `generate` on workers, or undefined when it runs in this thread. `prompts` are the resolved, checked prompt ids. */
export function generateOnWorkers(options: GenerateOptions, prompts: number[][]): Promise<Generation[]> | undefined {
  const workers = decodeWorkers([options.lm], prompts.length, longest(prompts) + (options.maxNewTokens ?? 32), options.workers);
  if (workers <= 1) return undefined;
  const { lm, signal, onToken, prompts: _text, promptIds: _ids, workers: _n, firstRow = 0, ...plain } = options;
  const chunks = chunksOf(prompts, workers);
  const padTo = longest(prompts);
  const tasks: Task[] = chunks.map((c) => ({ kind: 'generate', options: { ...plain, promptIds: c.rows, firstRow: firstRow + c.start }, padTo, events: onToken !== undefined }));
  type TokenEvent = Parameters<NonNullable<GenerateOptions['onToken']>>[0];
  const init: WorkerInit = { backend: lm.backend.name, lm: { dir: lm.source, fingerprint: lm.fingerprint } };
  return runChunks<Generation>({
    workers, init, chunks, tasks, what: 'generate', signal,
    onEvent: onToken && ((chunk, event) => onToken({ ...(event as TokenEvent), row: (event as TokenEvent).row + chunk.start })),
  }).then((parts) => parts.flat());
}

/** `guidedSample` on workers, or undefined when it runs in this thread. */
export function guidedOnWorkers(options: GuidedSampleOptions, prompts: number[][]): Promise<GuidedGeneration[]> | undefined {
  // A worker rebuilds a pargs head on a causal-LM folder; a Hugging Face RM (own read-out) stays in this thread.
  // Trained top blocks live only in this thread's reward model (workers load backbones from folders).
  if (options.rewardModel.format !== 'pargs' || (options.rewardModel as PartialRewardModel).trainedBlocks) return undefined;
  // Each step runs the k candidates (and, unfused, the chosen token once more).
  const workers = decodeWorkers([options.lm, options.rewardModel.backbone], prompts.length, longest(prompts) + (options.maxNewTokens ?? 64) * ((options.topK ?? 10) + 1), options.workers);
  if (workers <= 1) return undefined;
  const { lm, rewardModel, signal, onToken, prompts: _text, promptIds: _ids, workers: _n, firstRow = 0, ...plain } = options;
  const chunks = chunksOf(prompts, workers);
  const padTo = longest(prompts);
  const tasks: Task[] = chunks.map((c) => ({ kind: 'guided', options: { ...plain, promptIds: c.rows, firstRow: firstRow + c.start }, padTo, events: onToken !== undefined }));
  return rewardModelInit(lm, rewardModel as PartialRewardModel).then(async (reward) => {
    const init: WorkerInit = { backend: lm.backend.name, lm: { dir: lm.source, fingerprint: lm.fingerprint }, ...reward };
    const parts = await runChunks<GuidedGeneration>({
      workers, init, chunks, tasks, what: 'guidedSample', signal,
      onEvent: onToken && ((chunk, event) => onToken({ ...(event as GuidedToken), row: (event as GuidedToken).row + chunk.start })),
    });
    // A worker numbers rows within its chunk; renumber them within the whole list.
    parts.forEach((part, i) => part.forEach((g) => g.trace.forEach((t) => (t.row += chunks[i].start))));
    return parts.flat();
  });
}

/** Rows per reward-scoring batch in `bestOfN` (`scoreIdsBatch`'s default): chunks keep these groups whole. */
const SCORE_ROWS = 16;

/** `bestOfN` on workers, or undefined when it runs in this thread. */
export function bestOfNOnWorkers(options: BestOfNOptions, prompts: number[][], n: number): Promise<BestOfNResult[]> | undefined {
  // A worker rebuilds a pargs head on a causal-LM folder; a Hugging Face RM (own read-out) stays in this thread.
  // Trained top blocks live only in this thread's reward model (workers load backbones from folders).
  if (options.rewardModel.format !== 'pargs' || (options.rewardModel as PartialRewardModel).trainedBlocks) return undefined;
  const workers = decodeWorkers([options.lm, options.rewardModel.backbone], prompts.length, n * (longest(prompts) + (options.maxNewTokens ?? 32) + 1), options.workers);
  if (workers <= 1) return undefined;
  const { lm, rewardModel, signal, prompts: _text, promptIds: _ids, workers: _n, firstRow = 0, ...plain } = options;
  // Samples are scored 16 rows at a time, padded within the group: a chunk starts on a group boundary
  // so every group (and its padding) is the one the whole list forms.
  const multiple = SCORE_ROWS / gcd(SCORE_ROWS, n);
  const chunks = chunksOf(prompts, workers, multiple);
  if (chunks.length < 2) return undefined;
  const padTo = longest(prompts);
  const tasks: Task[] = chunks.map((c) => ({ kind: 'bestOfN', options: { ...plain, promptIds: c.rows, firstRow: firstRow + c.start }, padTo }));
  return rewardModelInit(lm, rewardModel as PartialRewardModel).then(async (reward) => {
    const init: WorkerInit = { backend: lm.backend.name, lm: { dir: lm.source, fingerprint: lm.fingerprint }, ...reward };
    return (await runChunks<BestOfNResult>({ workers: chunks.length, init, chunks, tasks, what: 'bestOfN', signal })).flat();
  });
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
