/**
 * Seeded initialisation of a Llama-architecture model as tf.Variables, in the layout of
 * `TransformerParams`. GPT-2 / Llama recipe: every matrix ~ N(0, 0.02²); the two projections that
 * write into the residual stream (attention output, MLP down) are further scaled by 1/√(2·layers) so
 * the residual variance does not grow with depth; RMSNorm weights start at 1.
 */
import { tf } from '../engine/tf.js';
import type { ModelConfig } from '../lm/config.js';
import type { LayerParams, TransformerParams } from '../lm/params.js';
import { createRng } from '../random.js';
import type { OptimizedParam } from '../train/adamw.js';

export const INIT_STD = 0.02;

/** The trainable variables of a model, by stable name, plus how to view them as `TransformerParams`. */
export interface TrainableModel {
  config: ModelConfig;
  /** In a fixed order; names are the checkpoint keys. `decay` is true for matrices only. */
  params: OptimizedParam[];
  /**
   * The params tree the forward pass takes. With tied embeddings the head is embedᵀ computed here,
   * so call this inside the gradient tape for the head's gradient to flow into the embedding.
   */
  view(): TransformerParams;
  /**
   * The variables without any computed tensor: a tied head is left as the [V, d] embedding itself.
   * For exporting (a tied head is never written) and as a Transformer's unused default params.
   */
  stored(): TransformerParams;
  dispose(): void;
}

/** n draws from N(0, std²) by Box–Muller on the named stream (one stream per tensor). */
function normals(n: number, std: number, seed: number, stream: string): Float32Array {
  const rng = createRng(seed, stream);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng())) * std; // 1 − u ∈ (0, 1]: log never sees 0
    const angle = 2 * Math.PI * rng();
    out[i] = r * Math.cos(angle);
    if (i + 1 < n) out[i + 1] = r * Math.sin(angle);
  }
  return out;
}

/** Variable shapes and init of every parameter, by name. */
function layout(c: ModelConfig): { name: string; shape: [number] | [number, number]; init: 'ones' | number }[] {
  const d = c.hiddenSize;
  const qkvOut = (c.numHeads + 2 * c.numKvHeads) * c.headDim;
  const residualStd = INIT_STD / Math.sqrt(2 * c.numLayers);
  const out: { name: string; shape: [number] | [number, number]; init: 'ones' | number }[] = [
    { name: 'embed', shape: [c.vocabSize, d], init: INIT_STD },
  ];
  for (let i = 0; i < c.numLayers; i++) {
    out.push(
      { name: `layers.${i}.attnNorm`, shape: [d], init: 'ones' },
      { name: `layers.${i}.qkv`, shape: [d, qkvOut], init: INIT_STD },
      { name: `layers.${i}.attnOut`, shape: [c.numHeads * c.headDim, d], init: residualStd },
      { name: `layers.${i}.mlpNorm`, shape: [d], init: 'ones' },
      { name: `layers.${i}.mlpIn`, shape: [d, 2 * c.intermediateSize], init: INIT_STD },
      { name: `layers.${i}.mlpOut`, shape: [c.intermediateSize, d], init: residualStd },
    );
  }
  out.push({ name: 'finalNorm', shape: [d], init: 'ones' });
  if (!c.tieWordEmbeddings) out.push({ name: 'lmHead', shape: [d, c.vocabSize], init: INIT_STD });
  return out;
}

/** Creates freshly initialised variables for `config` (a bias-free Llama config) from `seed`. */
export function initLlamaModel(config: ModelConfig, seed: number): TrainableModel {
  const params: OptimizedParam[] = layout(config).map(({ name, shape, init }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = init === 'ones' ? new Float32Array(n).fill(1) : normals(n, init, seed, `init:${name}`);
    const initial = tf.tensor(data, shape); // [V, d], [d, out], [in, d] or [d]
    const variable = tf.variable(initial, true);
    initial.dispose(); // the variable holds its own reference to the data
    return { name, variable, decay: shape.length === 2 };
  });
  return trainableFrom(config, params);
}

/** Wraps named variables (fresh or restored from a checkpoint) as a `TrainableModel`. */
export function trainableFrom(config: ModelConfig, params: OptimizedParam[]): TrainableModel {
  const byName = new Map(params.map((p) => [p.name, p.variable]));
  const get = <T extends tf.Tensor>(name: string): T => byName.get(name) as unknown as T;
  const layers: LayerParams[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    layers.push({
      attnNorm: { weight: get(`layers.${i}.attnNorm`) },
      qkv: get(`layers.${i}.qkv`),
      attnOut: get(`layers.${i}.attnOut`),
      mlpNorm: { weight: get(`layers.${i}.mlpNorm`) },
      mlpIn: get(`layers.${i}.mlpIn`),
      mlpOut: get(`layers.${i}.mlpOut`),
    });
  }
  const embed = get<tf.Tensor2D>('embed');
  const finalNorm = { weight: get<tf.Tensor1D>('finalNorm') };
  return {
    config,
    params,
    view: () => ({
      embed,
      layers,
      finalNorm,
      lmHead: config.tieWordEmbeddings ? (tf.transpose(embed) as tf.Tensor2D) : get<tf.Tensor2D>('lmHead'), // [d, V]
    }),
    stored: () => ({ embed, layers, finalNorm, lmHead: config.tieWordEmbeddings ? embed : get<tf.Tensor2D>('lmHead') }),
    dispose: () => params.forEach((p) => p.variable.dispose()),
  };
}

/** Names and shapes a checkpoint of `config` must hold. */
export function parameterShapes(config: ModelConfig): Map<string, number[]> {
  return new Map(layout(config).map((p) => [p.name, [...p.shape]]));
}
