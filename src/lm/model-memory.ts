/**
 * Whether a model fits the backend, decided from config.json before a single weight is read: a model
 * too big for the WebAssembly heap used to load and then abort the whole wasm module on its first
 * forward ("memory access out of bounds"), which no caller can catch or explain.
 *
 * What a model needs, by backend:
 * - its weights as float32 tensors (`countParameters` × 4), plus the transposed copy of the embedding a
 *   tied LM head is materialised as (hf-weights.ts);
 * - on wasm, XNNPACK's packed copy of every matrix a matMul multiplies by (tfjs-backend-wasm caches one
 *   fully-connected operator per weight, holding the weight repacked, for as long as the weight lives):
 *   measured at GPT-2-medium shapes, the heap grew from 1,642 to 2,997 MiB on the first forward,
 *   1,355 MiB for 1,349 MiB of matMul weights. This is why GPT-2-large (3.35 GB of tensors) loads but
 *   cannot run. load.ts charges them to the heap budget while the model lives (`holdHeapBytes`), so
 *   later batch plans and loads see them too;
 * - elsewhere, the loader's host scratch: the largest tensor read as float32 plus its transposed or
 *   concatenated copy (weights are converted one tensor at a time);
 * - a working margin: one sequence of min(context, 512) tokens through the forward, its KV cache and a
 *   row of logits (activation-memory.ts), so a model that fits can also run.
 */
import { formatBytes, tensorMemoryBudget, WASM_HEAP_MAX_BYTES } from '../engine/memory-budget.js';
import type { BackendName } from '../engine/backend.js';
import { ModelTooLargeError } from '../errors.js';
import { forwardBytesPerToken, kvCacheBytes } from './activation-memory.js';
import { countParameters, type ModelConfig } from './config.js';
import { expectedShapes } from './params.js';

/** Tokens of the one sequence the working margin provides for. */
export const MARGIN_TOKENS = 512;

export interface ModelMemory {
  /** Float32 weights as the backend holds them, with a tied head's transposed copy. */
  weights: number;
  /** wasm only: XNNPACK's packed copies of the matMul weights. */
  packed: number;
  /** Native and cpu only: host memory the loader converts one tensor in. */
  loaderScratch: number;
  /** One sequence of `marginTokens` tokens: forward activations, KV cache, logits. */
  margin: number;
  marginTokens: number;
  total: number;
}

/** Float32 elements of the matrices one layer multiplies by, plus one bias-sized row each (XNNPACK packs a bias). */
function layerMatMulElements(c: ModelConfig): number {
  const { qkvOut, mlpIn } = expectedShapes(c);
  const d = c.hiddenSize;
  const attnIn = c.numHeads * c.headDim;
  return (d + 1) * qkvOut + (attnIn + 1) * d + (d + 1) * mlpIn + (c.intermediateSize + 1) * d;
}

/** Elements of the largest single tensor the loader converts (the embedding, a fused q/k/v or MLP-in slot). */
function largestSlotElements(c: ModelConfig): number {
  const { qkvOut, mlpIn } = expectedShapes(c);
  return Math.max(c.vocabSize * c.hiddenSize, c.hiddenSize * qkvOut, c.hiddenSize * mlpIn, c.intermediateSize * c.hiddenSize);
}

/**
 * The bytes `c` needs on `backend`. `readsLogits`: the LM head multiplies (false for a sequence-
 * classification reward model, whose stand-in head is never used).
 */
export function modelMemory(c: ModelConfig, backend: BackendName, readsLogits = true): ModelMemory {
  const V = c.vocabSize;
  const d = c.hiddenSize;
  const weights = 4 * (countParameters(c) + (c.tieWordEmbeddings ? V * d : 0));
  const packed = backend === 'wasm' ? 4 * (c.numLayers * layerMatMulElements(c) + (readsLogits ? (d + 1) * V : 0)) : 0;
  // A slot is read as float32, then transposed or concatenated into a second array of the same size.
  const loaderScratch = backend === 'wasm' ? 0 : 2 * 4 * largestSlotElements(c);
  const marginTokens = Math.min(c.maxPositions, MARGIN_TOKENS);
  const margin = marginTokens * forwardBytesPerToken(c, marginTokens) + kvCacheBytes(c, 1, marginTokens) + 4 * V;
  return { weights, packed, loaderScratch, margin, marginTokens, total: weights + packed + loaderScratch + margin };
}

export interface FitContext {
  /** The folder, for the message. */
  dir: string;
  backend: BackendName;
  /** True when the backend was picked by `auto` although auto wanted native TensorFlow (not available). */
  autoFellBack: boolean;
  readsLogits?: boolean;
}

const NATIVE_FIX = 'Run it on native TensorFlow, which has no such limit: `npx pargs native install`, then `--backend tensorflow` (or PARGS_BACKEND=tensorflow; `auto` picks it for models this size once it is installed)';

/**
 * Throws a `ModelTooLargeError` when `c` cannot fit `ctx.backend` (above), before anything is loaded.
 * The limit is the wasm heap maximum (4 GiB − 64 KiB) minus the tensors already held on wasm, free
 * system memory on native and cpu, or PARGS_MEMORY_LIMIT when set (engine/memory-budget.ts).
 */
export function checkModelFits(c: ModelConfig, ctx: FitContext): void {
  const need = modelMemory(c, ctx.backend, ctx.readsLogits ?? true);
  const budget = tensorMemoryBudget();
  if (need.total <= budget.availableBytes) return;
  const millions = (countParameters(c) / 1e6).toFixed(1);
  const parts = [
    `${formatBytes(need.weights)} of float32 weights${c.tieWordEmbeddings ? ' (with the tied LM head’s transposed copy)' : ''}`,
    ...(need.packed > 0 ? [`${formatBytes(need.packed)} for XNNPACK’s packed copies of the matMul weights`] : []),
    ...(need.loaderScratch > 0 ? [`${formatBytes(need.loaderScratch)} to convert the largest tensor`] : []),
    `${formatBytes(need.margin)} to run one ${need.marginTokens}-token sequence`,
  ];
  const onWasm = ctx.backend === 'wasm';
  const limit = onWasm && budget.limit.startsWith('the wasm heap')
    ? `the WebAssembly heap tops out at ${formatBytes(WASM_HEAP_MAX_BYTES)} (${formatBytes(budget.availableBytes)} free)`
    : `${formatBytes(budget.availableBytes)} are available (${budget.limit})`;
  const chosen = onWasm ? 'WebAssembly' : `"${ctx.backend}"`;
  const why = ctx.autoFellBack ? ` Backend "auto" chose ${chosen} because native TensorFlow is not available here (\`npx pargs native status\` says why).` : '';
  const fix = onWasm ? `${NATIVE_FIX}.` : 'Free memory, choose a smaller model, or raise PARGS_MEMORY_LIMIT if it is set too low.';
  throw new ModelTooLargeError(
    `model folder "${ctx.dir}" (${c.modelType}, ${millions} M parameters) needs about ${formatBytes(need.total)} (${need.total} bytes) on backend "${ctx.backend}": ${parts.join(', ')}; ` +
      `but ${limit}. Nothing was loaded.${why} ${fix}`,
    need.total,
    budget.availableBytes,
    ctx.backend,
  );
}
