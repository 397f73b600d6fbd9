/**
 * The decoder-only transformer forward pass shared by GPT-2, the Llama family and GPT-NeoX, used for inference
 * (with or without a KV cache) and for pretraining (inside a gradient tape). Everything runs on the
 * residual stream flattened to [B·T, d] so every projection is a 2-D matMul.
 */
import { tf } from '../engine/tf.js';
import { activation } from '../engine/ops.js';
import { OptionError } from '../errors.js';
import type { ModelConfig } from './config.js';
import { KVCache, type LayerKV } from './kv-cache.js';
import type { LayerParams, NormParams, TransformerParams } from './params.js';
import { ropeFrequencies, ropeTables, rotateHalfMatrix, type RopeFrequencies } from './rope.js';

/** Added to the scores of keys a query may not see: large and finite, so fully masked rows stay finite. */
const MASKED = -1e9;

export type LogitsSelection = 'none' | 'last' | 'all';

export interface ForwardInput {
  /** Token ids, [B, T], rectangular (left-pad shorter rows and mark the padding in `mask`). */
  ids: readonly (readonly number[])[];
  /** 1 = real token, 0 = padding, [B, T]; all ones when omitted. */
  mask?: readonly (readonly number[])[];
  /**
   * Keys and values of earlier tokens; the new tokens continue its positions. Not consumed. It holds
   * exactly the layers this forward runs ([fromLayer, toLayer), see `KVCache.firstLayer`).
   */
  cache?: KVCache;
  /** Which positions get LM-head logits: none, the last column ([B, V]) or every position ([B, T, V]). */
  logits?: LogitsSelection;
  /** Return the cache extended by these tokens (the caller then owns and disposes it). */
  returnCache?: boolean;
  /**
   * Treat the T new tokens of each row as alternatives for the same next position (guided decoding's
   * top-k candidates): each sees the cached prefix and itself, not its siblings. Requires `cache`;
   * returns `candidateKV` instead of a cache, for `KVCache.appendCandidate`.
   */
  candidates?: boolean;
  /**
   * Stop before this layer: `hidden` is then the residual stream entering layer `toLayer` (no final
   * norm, no logits) — what a reward model with trained top blocks caches once per sequence. A returned
   * cache or `candidateKV` then covers layers [fromLayer, toLayer).
   */
  toLayer?: number;
  /**
   * Start at this layer from `residual` instead of the embeddings; `ids` still give the positions and
   * the mask (and must be the tokens the residual belongs to). With `toLayer` elsewhere: a layer range.
   */
  fromLayer?: number;
  /** The residual stream entering `fromLayer`, [B·T, d]; not consumed. Required with `fromLayer`. */
  residual?: tf.Tensor2D;
}

/** The inputs of `forwardFrom`: the residual entering layer `fromLayer` and the padding mask it was computed with. */
export interface ForwardFromInput {
  /** The residual stream entering layer `fromLayer`, [B·T, d] (from `forward({ toLayer: fromLayer })`). */
  residual: tf.Tensor2D;
  /** 1 = real token, 0 = padding, [B, T] (left padding, as in `forward`). */
  mask: readonly (readonly number[])[];
  fromLayer: number;
}

export interface ForwardOutput {
  /** Final hidden states after the final norm, [B, T, d] (with `toLayer`: the residual entering it). */
  hidden: tf.Tensor3D;
  /** [B, V] for 'last', [B, T, V] for 'all'. */
  logits?: tf.Tensor;
  cache?: KVCache;
  /** With `candidates`: the new tokens' own keys [B, Hkv, hd, T] and values [B, Hkv, T, hd] per layer. */
  candidateKV?: LayerKV[];
}

interface HostInputs {
  ids: Int32Array; // [B·T]
  positions: Int32Array; // [B·T]
  keyMask: Uint8Array[]; // B × Tk
  nextPosition: number[];
  bias: Float32Array; // [B, 1, T, Tk], with the sliding window where the config has one
  /** Without the window, for the layers it does not apply to (Qwen2 below max_window_layers). */
  fullBias?: Float32Array; // [B, 1, T, Tk]
}

interface LayerDims {
  B: number;
  T: number;
  Tk: number;
  H: number;
  Hkv: number;
  hd: number;
  group: number;
}

interface AttentionOutput extends tf.TensorContainerObject {
  out: tf.Tensor2D; // [B·T, d]
  keysT?: tf.Tensor4D; // [B, Hkv, hd, Tk]
  values?: tf.Tensor4D; // [B, Hkv, Tk, hd]
  newKeysT?: tf.Tensor4D; // [B, Hkv, hd, T]
  newValues?: tf.Tensor4D; // [B, Hkv, T, hd]
}

export class Transformer {
  /** Fixed frequencies; dynamic NTK recomputes them per forward from the longest position. */
  private readonly rope?: RopeFrequencies;
  private readonly windowedLayers?: ReadonlySet<number>;
  private readonly rotateHalf?: tf.Tensor2D; // [hd, hd]
  private readonly act: (x: tf.Tensor) => tf.Tensor;

  constructor(
    readonly config: ModelConfig,
    readonly params: TransformerParams,
  ) {
    this.act = activation(config.activation);
    if (config.slidingWindow !== null && config.slidingWindowLayers) this.windowedLayers = new Set(config.slidingWindowLayers);
    if (config.positional === 'rope') {
      this.rope = ropeFrequencies(config);
      this.rotateHalf = tf.tensor2d(rotateHalfMatrix(config.headDim, config.rotaryDim), [config.headDim, config.headDim]);
    }
  }

  /** Runs the model; `params` overrides the stored weights (pretraining passes its variables' views). */
  forward(input: ForwardInput, params: TransformerParams = this.params): ForwardOutput {
    const host = this.prepare(input);
    const c = this.config;
    const B = input.ids.length;
    const T = input.ids[0].length;
    const Tk = host.keyMask[0].length;
    const { H, Hkv, hd } = { H: c.numHeads, Hkv: c.numKvHeads, hd: c.headDim };
    const group = H / Hkv;
    const past = input.cache?.layers;

    const fromLayer = input.fromLayer ?? 0;
    const toLayer = input.toLayer ?? params.layers.length;
    this.checkRange(input, fromLayer, toLayer, B * T);

    const result = tf.tidy((): tf.TensorContainer => {
      let x: tf.Tensor2D;
      if (input.residual) x = tf.clone(input.residual); // [B·T, d]
      else {
        x = tf.gather(params.embed, tf.tensor1d(host.ids, 'int32')) as tf.Tensor2D; // [B·T, d]
        if (params.positionEmbed) x = tf.add(x, tf.gather(params.positionEmbed, tf.tensor1d(host.positions, 'int32'))); // [B·T, d]
      }
      const rope = this.ropeFor(host.positions); // cos, sin: [B·T, 1, hd]
      const bias = tf.tensor4d(host.bias, [B, 1, T, Tk]);
      const fullBias = host.fullBias ? tf.tensor4d(host.fullBias, [B, 1, T, Tk]) : bias;
      const kv: LayerKV[] = [];
      const newKV: LayerKV[] = [];
      const want = { cache: input.returnCache === true, candidates: input.candidates === true };
      const dims: LayerDims = { B, T, Tk, H, Hkv, hd, group };

      x = this.runLayers(x, params, fromLayer, toLayer, dims, rope, bias, fullBias, past, want, kv, newKV);
      const kept = input.candidates ? newKV : input.returnCache ? kv : [];
      const keep = kept.flatMap((l) => [l.keysT, l.values]);
      if (input.toLayer !== undefined) return { hidden: tf.reshape(x, [B, T, c.hiddenSize]), keep };

      const final = this.norm(x, params.finalNorm); // [B·T, d]
      const hidden = tf.reshape(final, [B, T, c.hiddenSize]) as tf.Tensor3D;
      let logits: tf.Tensor | undefined;
      if (input.logits === 'last') {
        const lastRows = tf.tensor1d(Int32Array.from({ length: B }, (_, b) => b * T + T - 1), 'int32');
        logits = tf.matMul(tf.gather(final, lastRows), params.lmHead); // [B, V]
      } else if (input.logits === 'all') {
        logits = tf.reshape(tf.matMul(final, params.lmHead), [B, T, c.vocabSize]); // [B, T, V]
      }
      return logits ? { hidden, logits, keep } : { hidden, keep };
    }) as { hidden: tf.Tensor3D; logits?: tf.Tensor; keep: tf.Tensor4D[] };

    const out: ForwardOutput = { hidden: result.hidden };
    if (result.logits) out.logits = result.logits;
    const layers: LayerKV[] = [];
    for (let i = 0; i < result.keep.length; i += 2) layers.push({ keysT: result.keep[i], values: result.keep[i + 1] });
    if (input.candidates) out.candidateKV = layers;
    else if (input.returnCache) out.cache = new KVCache(layers, host.keyMask, host.nextPosition, fromLayer);
    return out;
  }

  /**
   * Layers [fromLayer, N) and the final norm from a given residual (the rest of a `toLayer` forward):
   * the same positions and causal mask as the whole forward of these rows, so the two halves together
   * give the whole forward's hidden states. `params` overrides the stored weights (a reward model's
   * trained top blocks, as variables inside a gradient tape). Returns the final hidden states [B·T, d];
   * the input residual is not consumed.
   */
  forwardFrom(input: ForwardFromInput, params: TransformerParams = this.params): tf.Tensor2D {
    const c = this.config;
    const B = input.mask.length;
    const T = input.mask[0]?.length ?? 0;
    const N = params.layers.length;
    if (!Number.isInteger(input.fromLayer) || input.fromLayer < 0 || input.fromLayer > N) throw new OptionError(`forwardFrom: fromLayer must be an integer in [0, ${N}], got ${input.fromLayer}`);
    if (input.residual.shape[0] !== B * T || input.residual.shape[1] !== c.hiddenSize) {
      throw new OptionError(`forwardFrom: residual has shape [${input.residual.shape}], the mask implies [${B * T}, ${c.hiddenSize}]`);
    }
    const host = this.prepare({ ids: input.mask.map((row) => row.map(() => 0)), mask: input.mask });
    const dims: LayerDims = { B, T, Tk: T, H: c.numHeads, Hkv: c.numKvHeads, hd: c.headDim, group: c.numHeads / c.numKvHeads };
    return tf.tidy(() => {
      const rope = this.ropeFor(host.positions); // cos, sin: [B·T, 1, hd]
      const bias = tf.tensor4d(host.bias, [B, 1, T, T]);
      const fullBias = host.fullBias ? tf.tensor4d(host.fullBias, [B, 1, T, T]) : bias;
      const x = this.runLayers(tf.clone(input.residual), params, input.fromLayer, N, dims, rope, bias, fullBias, undefined, { cache: false, candidates: false }, [], []);
      return this.norm(x, params.finalNorm); // [B·T, d]
    });
  }

  /** LM-head logits for hidden states of any leading shape [..., d] → [..., V]. */
  logitsFromHidden(hidden: tf.Tensor, params: TransformerParams = this.params): tf.Tensor {
    return tf.tidy(() => {
      const d = this.config.hiddenSize;
      const flat = tf.reshape(hidden, [-1, d]); // [N, d]
      return tf.reshape(tf.matMul(flat, params.lmHead), [...hidden.shape.slice(0, -1), this.config.vocabSize]);
    });
  }

  dispose(): void {
    this.rotateHalf?.dispose();
  }

  /** A layer range [fromLayer, toLayer) needs a residual of the right shape and a cache of exactly those layers. */
  private checkRange(input: ForwardInput, fromLayer: number, toLayer: number, rows: number): void {
    const N = this.params.layers.length;
    if (input.fromLayer !== undefined) {
      if (!Number.isInteger(fromLayer) || fromLayer < 0 || fromLayer >= toLayer) throw new OptionError(`forward: fromLayer must be an integer in [0, ${toLayer}) (below toLayer), got ${input.fromLayer}`);
      const r = input.residual;
      if (!r) throw new OptionError(`forward: fromLayer ${fromLayer} starts from a residual; pass residual [B·T, d] (from forward({ toLayer: ${fromLayer} }))`);
      if (r.shape[0] !== rows || r.shape[1] !== this.config.hiddenSize) throw new OptionError(`forward: residual has shape [${r.shape}], the ids imply [${rows}, ${this.config.hiddenSize}]`);
    } else if (input.residual) {
      throw new OptionError('forward: residual needs fromLayer, the layer it enters');
    }
    const cache = input.cache;
    if (cache && (cache.firstLayer !== fromLayer || cache.layers.length !== toLayer - fromLayer)) {
      throw new OptionError(`forward: the cache holds layers [${cache.firstLayer}, ${cache.firstLayer + cache.layers.length}), this forward runs [${fromLayer}, ${toLayer}) of ${N}; pass the cache of that range`);
    }
  }

  /** Layers [from, to) on the residual x [B·T, d] (consumed), `past[i]` being layer from + i; collects the caches `want` asks for. */
  private runLayers(
    x: tf.Tensor2D, params: TransformerParams, from: number, to: number, dims: LayerDims,
    rope: { cos: tf.Tensor3D; sin: tf.Tensor3D } | undefined, bias: tf.Tensor4D, fullBias: tf.Tensor4D,
    past: LayerKV[] | undefined, want: { cache: boolean; candidates: boolean }, kv: LayerKV[], newKV: LayerKV[],
  ): tf.Tensor2D {
    for (let li = from; li < to; li++) {
      const layer = params.layers[li];
      // Each sub-block runs in its own tidy: attention scores [B, H, T, Tk] and the MLP's [B·T, I]
      // activations are freed as soon as the block's output exists, so peak memory is one layer's
      // worth, not all layers' (a gradient tape still keeps what backprop needs, as its own copies).
      const attn = tf.tidy(() => this.attention(x, layer, li, dims, rope, this.windowApplies(li) ? bias : fullBias, past?.[li - from], want));
      if (attn.keysT && attn.values) kv.push({ keysT: attn.keysT, values: attn.values });
      if (attn.newKeysT && attn.newValues) newKV.push({ keysT: attn.newKeysT, values: attn.newValues });
      const residual = tf.add(x, attn.out) as tf.Tensor2D; // [B·T, d]
      attn.out.dispose();
      // GPT-NeoX's parallel residual: the MLP reads the layer's input, not the stream after attention.
      const mlpOut = tf.tidy(() => this.mlp(this.config.parallelResidual ? x : residual, layer)); // [B·T, d]
      x.dispose();
      x = tf.add(residual, mlpOut) as tf.Tensor2D; // [B·T, d]
      residual.dispose();
      mlpOut.dispose();
    }
    return x;
  }

  /**
   * One attention block on the normed residual: returns its output [B·T, d] and, as `keep` asks, the
   * layer's full keys/values (for a returned cache) or only the new tokens' (for candidates).
   */
  private attention(
    x: tf.Tensor2D, layer: LayerParams, li: number, dims: LayerDims,
    rope: { cos: tf.Tensor3D; sin: tf.Tensor3D } | undefined, bias: tf.Tensor4D, past: LayerKV | undefined,
    keep: { cache: boolean; candidates: boolean },
  ): AttentionOutput {
    const { B, T, Tk, H, Hkv, hd, group } = dims;
    const h = this.norm(x, layer.attnNorm); // [B·T, d]
    let qkv = tf.matMul(h, layer.qkv); // [B·T, (H + 2·Hkv)·hd]
    if (layer.qkvBias) qkv = tf.add(qkv, layer.qkvBias);
    const [qFlat, kFlat, vFlat] = tf.split(qkv, [H * hd, Hkv * hd, Hkv * hd], 1);
    let q = tf.reshape(qFlat, [B * T, H, hd]); // [B·T, H, hd]
    let k = tf.reshape(kFlat, [B * T, Hkv, hd]); // [B·T, Hkv, hd]
    if (rope) {
      q = this.rotate(q as tf.Tensor3D, rope.cos, rope.sin);
      k = this.rotate(k as tf.Tensor3D, rope.cos, rope.sin);
    }
    q = tf.mul(q, this.attentionScale(li));
    const q4 = tf.transpose(tf.reshape(q, [B, T, H, hd]), [0, 2, 1, 3]); // [B, H, T, hd]
    const newKeysT = tf.transpose(tf.reshape(k, [B, T, Hkv, hd]), [0, 2, 3, 1]) as tf.Tensor4D; // [B, Hkv, hd, T]
    const newValues = tf.transpose(tf.reshape(vFlat, [B, T, Hkv, hd]), [0, 2, 1, 3]) as tf.Tensor4D; // [B, Hkv, T, hd]
    const keysT = past ? (tf.concat([past.keysT, newKeysT], 3) as tf.Tensor4D) : newKeysT; // [B, Hkv, hd, Tk]
    const values = past ? (tf.concat([past.values, newValues], 2) as tf.Tensor4D) : newValues; // [B, Hkv, Tk, hd]
    // GQA without repeating K/V: the `group` query heads sharing a kv head are contiguous, so fold them
    // into the query-length axis and let one matMul serve the whole group.
    const scores = tf.matMul(tf.reshape(q4, [B, Hkv, group * T, hd]), keysT); // [B, Hkv, g·T, Tk]
    const probs = tf.softmax(tf.add(tf.reshape(scores, [B, H, T, Tk]), bias)); // [B, H, T, Tk]
    const context = tf.matMul(tf.reshape(probs, [B, Hkv, group * T, Tk]), values); // [B, Hkv, g·T, hd]
    const merged = tf.reshape(tf.transpose(tf.reshape(context, [B, H, T, hd]), [0, 2, 1, 3]), [B * T, H * hd]); // [B·T, H·hd]
    let out = tf.matMul(merged, layer.attnOut) as tf.Tensor2D; // [B·T, d]
    if (layer.attnOutBias) out = tf.add(out, layer.attnOutBias);
    const result: AttentionOutput = { out };
    if (keep.cache) Object.assign(result, { keysT, values });
    if (keep.candidates) Object.assign(result, { newKeysT, newValues });
    return result;
  }

  /** The MLP block on the residual x [B·T, d] → its output [B·T, d]. */
  private mlp(x: tf.Tensor2D, layer: LayerParams): tf.Tensor2D {
    const m = this.norm(x, layer.mlpNorm); // [B·T, d]
    let up = tf.matMul(m, layer.mlpIn); // [B·T, I] or [B·T, 2·I]
    if (layer.mlpInBias) up = tf.add(up, layer.mlpInBias);
    let inner: tf.Tensor2D;
    if (this.config.mlp === 'gated') {
      const [gate, lin] = tf.split(up, 2, 1); // [B·T, I] each
      inner = tf.mul(this.act(gate), lin) as tf.Tensor2D;
    } else {
      inner = this.act(up) as tf.Tensor2D;
    }
    let out = tf.matMul(inner, layer.mlpOut) as tf.Tensor2D; // [B·T, d]
    if (layer.mlpOutBias) out = tf.add(out, layer.mlpOutBias);
    return out;
  }

  private attentionScale(layerIndex: number): number {
    const c = this.config;
    let scale = c.scaleAttnWeights ? 1 / Math.sqrt(c.headDim) : 1;
    if (c.scaleByInverseLayerIdx) scale /= layerIndex + 1;
    return scale;
  }

  private norm(x: tf.Tensor2D, p: NormParams): tf.Tensor2D {
    const eps = this.config.normEps;
    if (this.config.norm === 'rmsnorm') {
      const meanSquare = tf.mean(tf.square(x), -1, true); // [N, 1]
      return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), p.weight) as tf.Tensor2D;
    }
    const centred = tf.sub(x, tf.mean(x, -1, true)); // [N, d]
    const variance = tf.mean(tf.square(centred), -1, true); // [N, 1], population variance as in torch
    const normed = tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), p.weight);
    return (p.bias ? tf.add(normed, p.bias) : normed) as tf.Tensor2D;
  }

  private windowApplies(layerIndex: number): boolean {
    return this.windowedLayers === undefined || this.windowedLayers.has(layerIndex);
  }

  /**
   * cos/sin for these positions. Dynamic NTK follows transformers: the frequencies depend on the
   * longest sequence this forward reaches (largest position + 1); with a KV cache, earlier keys keep
   * the rotation they were cached with and only the new tokens use the new frequencies.
   */
  private ropeFor(positions: Int32Array): { cos: tf.Tensor3D; sin: tf.Tensor3D } | undefined {
    if (!this.rope) return undefined;
    let rope = this.rope;
    if (this.config.ropeScaling.type === 'dynamic') {
      let longest = 0;
      for (const p of positions) longest = Math.max(longest, p + 1);
      rope = ropeFrequencies(this.config, longest);
    }
    const { cos, sin } = ropeTables(rope.invFreq, positions, rope.attentionScaling, this.config.headDim);
    const shape: [number, number, number] = [positions.length, 1, this.config.headDim];
    return { cos: tf.tensor3d(cos, shape), sin: tf.tensor3d(sin, shape) };
  }

  /** x·cos + rotate_half(x)·sin on [N, heads, hd]. */
  private rotate(x: tf.Tensor3D, cos: tf.Tensor3D, sin: tf.Tensor3D): tf.Tensor3D {
    const hd = this.config.headDim;
    const rotated = tf.reshape(tf.matMul(tf.reshape(x, [-1, hd]), this.rotateHalf as tf.Tensor2D), x.shape); // [N, heads, hd]
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin)) as tf.Tensor3D;
  }

  /** Token ids, positions, key masks and the additive attention bias, computed on the host. */
  private prepare(input: ForwardInput): HostInputs {
    const c = this.config;
    const B = input.ids.length;
    if (B === 0) throw new OptionError('forward: ids is empty; pass at least one row');
    const T = input.ids[0].length;
    if (T === 0) throw new OptionError('forward: ids rows are empty; pass at least one token per row');
    const cache = input.cache;
    if (input.candidates && !cache) throw new OptionError('forward: candidates need a cache holding the prefix they continue');
    if (input.toLayer !== undefined) {
      if (!Number.isInteger(input.toLayer) || input.toLayer < 0 || input.toLayer > c.numLayers) throw new OptionError(`forward: toLayer must be an integer in [0, ${c.numLayers}], got ${input.toLayer}`);
      if ((input.logits ?? 'none') !== 'none') throw new OptionError('forward: toLayer returns the residual entering that layer; it gives no logits');
    }
    if (input.candidates && input.returnCache) throw new OptionError('forward: candidates return candidateKV, not a cache; use KVCache.appendCandidate');
    if (cache) {
      cache.assertLive('forward');
      if (cache.batchSize !== B) throw new OptionError(`forward: cache has ${cache.batchSize} rows but ids has ${B}`);
    }
    const past = cache?.length ?? 0;
    const Tk = past + T;
    const ids = new Int32Array(B * T);
    const positions = new Int32Array(B * T);
    const keyMask: Uint8Array[] = [];
    const nextPosition: number[] = [];
    for (let b = 0; b < B; b++) {
      const row = input.ids[b];
      const maskRow = input.mask?.[b];
      if (row.length !== T) throw new OptionError(`forward: ids row ${b} has ${row.length} tokens, row 0 has ${T}; left-pad rows to one length`);
      if (maskRow && maskRow.length !== T) throw new OptionError(`forward: mask row ${b} has ${maskRow.length} entries, expected ${T}`);
      const km = new Uint8Array(Tk);
      if (cache) km.set(cache.keyMask[b]);
      let pos = cache?.nextPosition[b] ?? 0;
      for (let t = 0; t < T; t++) {
        const id = row[t];
        if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) {
          throw new OptionError(`forward: token id ${id} at row ${b}, position ${t} is outside the vocabulary [0, ${c.vocabSize})`);
        }
        ids[b * T + t] = id;
        const real = maskRow ? maskRow[t] !== 0 : true;
        km[past + t] = real ? 1 : 0;
        // transformers' generate gives padding position 1 (its output is never attended to).
        // Candidates are alternatives for one slot, so they all take the row's next position.
        positions[b * T + t] = !real ? 1 : input.candidates ? pos : pos++;
      }
      if (input.candidates) pos++;
      if (c.positional === 'learned' && pos > c.maxPositions) {
        throw new OptionError(`forward: row ${b} reaches position ${pos - 1}, beyond this model's context of ${c.maxPositions} tokens`);
      }
      keyMask.push(km);
      nextPosition.push(pos);
    }
    const bias = new Float32Array(B * T * Tk);
    const window = c.slidingWindow;
    const fullBias = window !== null && this.windowedLayers ? new Float32Array(B * T * Tk) : undefined;
    for (let b = 0; b < B; b++) {
      const km = keyMask[b];
      for (let t = 0; t < T; t++) {
        const i = past + t; // the query's cache slot
        const base = (b * T + t) * Tk;
        for (let j = 0; j < Tk; j++) {
          // A candidate sits in the slot right after the prefix and sees no sibling: its window and
          // causality are those of slot `past`, and among the new keys only its own is visible.
          const query = input.candidates ? past : i;
          const key = input.candidates && j >= past ? (j === i ? past : Number.POSITIVE_INFINITY) : j;
          const causalVisible = key <= query && km[j] === 1;
          if (!causalVisible || (window !== null && key <= query - window)) bias[base + j] = MASKED;
          if (fullBias && !causalVisible) fullBias[base + j] = MASKED;
        }
      }
    }
    return { ids, positions, keyMask, nextPosition, bias, ...(fullBias ? { fullBias } : {}) };
  }
}
