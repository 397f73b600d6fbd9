/**
 * A causal LM that shares a base model's embeddings and lower layers and has its own top layers and
 * final norm: the backbone of a reward model whose top m blocks were trained (`trainable: top-blocks`).
 * The shared tensors are the base's own objects (no copy), so lower blocks cost no memory twice and the
 * two models agree on them bit for bit; `dispose` frees only what is this model's own.
 */
import { createHash } from 'node:crypto';
import { tf } from '../engine/tf.js';
import { OptionError } from '../errors.js';
import { CausalLM } from './causal-lm.js';
import type { LayerParams, NormParams, TransformerParams } from './params.js';
import { Transformer } from './transformer.js';

const LAYER_FIELDS = ['attnNorm.weight', 'attnNorm.bias', 'qkv', 'qkvBias', 'attnOut', 'attnOutBias', 'mlpNorm.weight', 'mlpNorm.bias', 'mlpIn', 'mlpInBias', 'mlpOut', 'mlpOutBias'] as const;

function field(layer: LayerParams, name: (typeof LAYER_FIELDS)[number]): tf.Tensor | undefined {
  const [a, b] = name.split('.') as [keyof LayerParams, keyof NormParams | undefined];
  const v = layer[a];
  return b ? (v as NormParams | undefined)?.[b] : (v as tf.Tensor | undefined);
}

/** The tensors of layers ≥ `from` and of the final norm, by name (`layers.5.qkv`, `finalNorm.weight`), in a fixed order. */
export function topBlockTensors(params: TransformerParams, from: number): [string, tf.Tensor][] {
  const out: [string, tf.Tensor][] = [];
  for (let i = from; i < params.layers.length; i++) {
    for (const name of LAYER_FIELDS) {
      const t = field(params.layers[i], name);
      if (t) out.push([`layers.${i}.${name}`, t]);
    }
  }
  out.push(['finalNorm.weight', params.finalNorm.weight]);
  if (params.finalNorm.bias) out.push(['finalNorm.bias', params.finalNorm.bias]);
  return out;
}

/** `params` with layers ≥ `from` and the final norm replaced by `make(name, tensor)`; everything else shared. */
export function replaceTopBlocks(params: TransformerParams, from: number, make: (name: string, t: tf.Tensor) => tf.Tensor): TransformerParams {
  const norm = (n: NormParams, prefix: string): NormParams => ({
    weight: make(`${prefix}.weight`, n.weight) as tf.Tensor1D,
    ...(n.bias ? { bias: make(`${prefix}.bias`, n.bias) as tf.Tensor1D } : {}),
  });
  const opt = <T extends tf.Tensor>(name: string, t: T | undefined): T | undefined => (t ? (make(name, t) as T) : undefined);
  const layers = params.layers.map((l, i): LayerParams => {
    if (i < from) return l;
    const p = `layers.${i}`;
    const layer: LayerParams = {
      attnNorm: norm(l.attnNorm, `${p}.attnNorm`), qkv: make(`${p}.qkv`, l.qkv) as tf.Tensor2D, attnOut: make(`${p}.attnOut`, l.attnOut) as tf.Tensor2D,
      mlpNorm: norm(l.mlpNorm, `${p}.mlpNorm`), mlpIn: make(`${p}.mlpIn`, l.mlpIn) as tf.Tensor2D, mlpOut: make(`${p}.mlpOut`, l.mlpOut) as tf.Tensor2D,
    };
    const biases = { qkvBias: opt(`${p}.qkvBias`, l.qkvBias), attnOutBias: opt(`${p}.attnOutBias`, l.attnOutBias), mlpInBias: opt(`${p}.mlpInBias`, l.mlpInBias), mlpOutBias: opt(`${p}.mlpOutBias`, l.mlpOutBias) };
    for (const [k, v] of Object.entries(biases)) if (v) Object.assign(layer, { [k]: v });
    return layer;
  });
  return { ...params, layers, finalNorm: norm(params.finalNorm, 'finalNorm') };
}

/**
 * SHA-256 over the architecture and the weights a reward model with trained blocks from layer `from`
 * shares with its base: embeddings and layers < from. Equal on any backbone whose lower blocks match.
 */
export function lowerBlocksFingerprint(lm: CausalLM, from: number): string {
  const { raw: _raw, bosTokenId: _b, eosTokenIds: _e, padTokenId: _p, ...architecture } = lm.config;
  const h = createHash('sha256').update(JSON.stringify(architecture)).update(`from:${from}`);
  const p = lm.params;
  const tensors: tf.Tensor[] = [p.embed, ...(p.positionEmbed ? [p.positionEmbed] : [])];
  for (let i = 0; i < from; i++) for (const name of LAYER_FIELDS) {
    const t = field(p.layers[i], name);
    if (t) tensors.push(t);
  }
  for (const t of tensors) {
    const data = t.dataSync() as Float32Array;
    h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return h.digest('hex');
}

export class BranchedLM extends CausalLM {
  private constructor(
    /** The base it branches from, and the first layer that is this model's own. */
    readonly base: CausalLM,
    transformer: Transformer,
    fingerprints: { full: string; backbone: string },
    readonly from: number,
    private readonly own: readonly tf.Tensor[],
  ) {
    super(base.config, base.tokenizer, base.generation, transformer, base.backend, base.source, fingerprints.full, fingerprints.backbone);
  }

  /**
   * A model on `base` whose layers ≥ `from` and final norm are `top` (named as `topBlockTensors` names
   * them). It takes ownership of `top`'s tensors; the rest are the base's.
   */
  static create(base: CausalLM, from: number, top: ReadonlyMap<string, tf.Tensor>): BranchedLM {
    const N = base.config.numLayers;
    if (!Number.isInteger(from) || from < 0 || from >= N) throw new OptionError(`BranchedLM: from must be an integer in [0, ${N}), got ${from}`);
    const expected = topBlockTensors(base.params, from);
    for (const [name, t] of expected) {
      const mine = top.get(name);
      if (!mine) throw new OptionError(`BranchedLM: no tensor "${name}" for the trained top blocks`);
      if (mine.shape.join(',') !== t.shape.join(',')) throw new OptionError(`BranchedLM: "${name}" has shape [${mine.shape}], the base's is [${t.shape}]`);
    }
    if (top.size !== expected.length) throw new OptionError(`BranchedLM: ${top.size} tensors given for ${expected.length} top-block parameters`);
    const params = replaceTopBlocks(base.params, from, (name) => top.get(name) as tf.Tensor);
    const h = createHash('sha256');
    for (const [name] of expected) {
      const data = (top.get(name) as tf.Tensor).dataSync() as Float32Array;
      h.update(name).update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    const own = h.digest('hex');
    const mix = (f: string): string => createHash('sha256').update(f).update(`top-blocks:${from}:`).update(own).digest('hex');
    return new BranchedLM(base, new Transformer(base.config, params), { full: mix(base.fingerprint), backbone: mix(base.backboneFingerprint) }, from, [...top.values()]);
  }

  /**
   * The same model over the same own tensors with fingerprints recomputed from their current values
   * (after training changed them in place); this object is retired without freeing them.
   */
  rebuilt(): BranchedLM {
    const top = new Map(topBlockTensors(this.params, this.from));
    const fresh = BranchedLM.create(this.base, this.from, top);
    this.disposed = true;
    this.transformer.dispose();
    return fresh;
  }

  /** Disposed with its own blocks, or with its base (whose embeddings and lower blocks it runs on). */
  override get isDisposed(): boolean {
    return this.disposed || this.base.isDisposed;
  }

  /** Frees this model's own top blocks; the base's tensors stay (the base frees them). */
  override dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.own) t.dispose();
    this.transformer.dispose();
  }
}
