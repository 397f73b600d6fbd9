/**
 * A loaded causal language model: config, tokenizer, weights and the forward/cache functions that
 * training and decoding build on. Owns its tensors; call `dispose()` when done.
 */
import { tf } from '../engine/tf.js';
import type { BackendInfo } from '../engine/backend.js';
import { DisposedError, OptionError } from '../errors.js';
import type { ModelConfig } from './config.js';
import type { GenerationDefaults } from './generation-config.js';
import type { KVCache } from './kv-cache.js';
import { boolean, checkArgument, idRows, instance, integer, object, oneOf, required, tokenIds, type Spec } from '../options.js';
import { KVCache as KVCacheClass } from './kv-cache.js';
import { paramTensors, type TransformerParams } from './params.js';
import type { PargsTokenizer } from './tokenizer.js';
import { Transformer, type ForwardFromInput, type ForwardInput, type ForwardOutput } from './transformer.js';

export interface StepOutput {
  /** Next-token logits of every row, [B, V]. */
  logits: tf.Tensor2D;
  /** The new tokens' final hidden states, [B, d]. */
  hidden: tf.Tensor2D;
  /** The cache extended by the new tokens; the input cache is left intact. */
  cache: KVCache;
}

const tensorSpec = (): Spec => instance(() => tf.Tensor, 'a tf.Tensor');
const cacheSpec = (): Spec => instance(() => KVCacheClass, 'a KVCache (from prefill or step)');
const FORWARD_INPUT = object({ ids: required(idRows()), mask: idRows(), cache: cacheSpec(), logits: oneOf('none', 'last', 'all'), returnCache: boolean(), candidates: boolean(), toLayer: integer({ min: 0 }), fromLayer: integer({ min: 0 }), residual: tensorSpec() }, 'forward input');

/** Left-pads ragged rows to one length: `ids` with `padId` and a 0/1 mask. */
export function leftPad(rows: readonly (readonly number[])[], padId: number): { ids: number[][]; mask: number[][] } {
  checkArgument('leftPad', 'rows', rows, required(idRows()));
  checkArgument('leftPad', 'padId', padId, required(integer({ min: 0 })));
  const T = Math.max(...rows.map((r) => r.length));
  return {
    ids: rows.map((r) => [...new Array<number>(T - r.length).fill(padId), ...r]),
    mask: rows.map((r) => [...new Array<number>(T - r.length).fill(0), ...new Array<number>(r.length).fill(1)]),
  };
}

export class CausalLM {
  protected disposed = false;

  constructor(
    readonly config: ModelConfig,
    readonly tokenizer: PargsTokenizer,
    readonly generation: GenerationDefaults,
    readonly transformer: Transformer,
    readonly backend: BackendInfo,
    /** Folder the model was loaded from (empty for in-memory models). */
    readonly source: string,
    /** SHA-256 over config and weights: identifies this backbone in reward-model checkpoints. */
    readonly fingerprint: string,
    /**
     * SHA-256 over the architecture (the parsed config without token ids) and the backbone weights, without
     * any head (lm_head, score): equal for a causal LM and a sequence-classification RM built on the same
     * backbone, so a reward model can share this model's forward pass and KV cache iff it matches.
     */
    readonly backboneFingerprint: string = fingerprint,
  ) {}

  get params(): TransformerParams {
    return this.transformer.params;
  }

  /** Id used to left-pad batches (the pad token, else the first EOS, else 0); padding is masked anyway. */
  get padId(): number {
    return this.generation.padTokenId ?? this.generation.eosTokenIds[0] ?? 0;
  }

  forward(input: ForwardInput): ForwardOutput {
    checkArgument('forward', 'input', input, required(FORWARD_INPUT));
    this.assertLive('forward');
    return this.transformer.forward(input);
  }

  /** Layers [fromLayer, N) and the final norm from the residual entering `fromLayer` (see Transformer.forwardFrom), [B·T, d]. */
  forwardFrom(input: ForwardFromInput, params?: TransformerParams): tf.Tensor2D {
    checkArgument('forwardFrom', 'residual', input?.residual, required(tensorSpec()));
    checkArgument('forwardFrom', 'mask', input?.mask, required(idRows()));
    checkArgument('forwardFrom', 'fromLayer', input?.fromLayer, required(integer({ min: 0 })));
    this.assertLive('forwardFrom');
    return this.transformer.forwardFrom(input, params);
  }

  /**
   * Runs the prompts (ragged rows are left-padded) and returns the last position's logits, [B, V],
   * the hidden states [B, T, d], and a cache to continue from.
   */
  prefill(rows: readonly (readonly number[])[]): { logits: tf.Tensor2D; hidden: tf.Tensor3D; cache: KVCache } {
    checkArgument('prefill', 'rows', rows, required(idRows()));
    this.assertLive('prefill');
    if (rows.length === 0) throw new OptionError('prefill: no prompts given');
    rows.forEach((r, i) => {
      if (r.length === 0) throw new OptionError(`prefill: prompt ${i} has no tokens; give at least one token (e.g. BOS)`);
    });
    const { ids, mask } = leftPad(rows, this.padId);
    const out = this.transformer.forward({ ids, mask, logits: 'last', returnCache: true });
    return { logits: out.logits as tf.Tensor2D, hidden: out.hidden, cache: out.cache as KVCache };
  }

  /** One new token per row against `cache`. */
  step(cache: KVCache, tokens: readonly number[]): StepOutput {
    checkArgument('step', 'cache', cache, required(cacheSpec()));
    checkArgument('step', 'tokens', tokens, required(tokenIds()));
    this.assertLive('step');
    if (tokens.length !== cache.batchSize) throw new OptionError(`step: ${tokens.length} tokens for a cache of ${cache.batchSize} rows`);
    const out = this.transformer.forward({ ids: tokens.map((t) => [t]), cache, logits: 'last', returnCache: true });
    const hidden = tf.tidy(() => tf.reshape(out.hidden, [tokens.length, this.config.hiddenSize]) as tf.Tensor2D); // [B, d]
    out.hidden.dispose();
    return { logits: out.logits as tf.Tensor2D, hidden, cache: out.cache as KVCache };
  }

  /** LM-head logits for hidden states [..., d] → [..., V]. */
  logitsFromHidden(hidden: tf.Tensor): tf.Tensor {
    checkArgument('logitsFromHidden', 'hidden', hidden, required(tensorSpec()));
    this.assertLive('logitsFromHidden');
    return this.transformer.logitsFromHidden(hidden);
  }

  /** Number of float parameters held (the tied head counted once). */
  get parameterCount(): number {
    const tensors = paramTensors(this.params);
    const tiedCopy = this.config.tieWordEmbeddings ? this.params.lmHead.size : 0;
    return tensors.reduce((s, t) => s + t.size, 0) - tiedCopy;
  }

  /** True after `dispose()` (for a BranchedLM, also after its base's): the model can no longer run. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of paramTensors(this.params)) t.dispose();
    this.transformer.dispose();
  }

  /** Throws a DisposedError naming `fn` and this model when it was disposed. */
  assertLive(fn: string): void {
    if (this.isDisposed) {
      throw new DisposedError(`${fn}: the ${this.constructor.name}${this.source ? ` from "${this.source}"` : ''} was disposed; load it again (loadCausalLM), and call dispose() only after its last use`);
    }
  }
}
