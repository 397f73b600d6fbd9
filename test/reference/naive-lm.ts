/**
 * Independent float64 reference of the Hugging Face `transformers` forward pass for GPT-2
 * (`GPT2LMHeadModel`) and the Llama family (`llama`, `mistral`, `qwen2`), written from
 * /work/shared/reference/hf-architectures.md §1–5.
 *
 * It imports nothing from `src/` and no TensorFlow: everything is a scalar loop over Float64Array.
 * It is meant to be obviously correct, not fast (tiny models only). Tests use it as the golden check
 * of the TF.js port.
 *
 * Float32 emulation: only where the spec requires it. RoPE inv_freq and the angle pos·inv_freq are
 * rounded to float32 (Math.fround), as HF computes them in float32. Everything else is float64.
 */

type Raw = Record<string, unknown>;
type Family = 'gpt2' | 'llama' | 'mistral' | 'qwen2';

// ───────────────────────────── scalar maths ─────────────────────────────

/**
 * erf via the everywhere-positive series erf(x) = 2/√π · e^(−x²) · Σ_{n≥0} 2ⁿ x^(2n+1) / (2n+1)!!
 * (Abramowitz & Stegun 7.1.6). No cancellation, so the result is accurate to a few ulps for |x| < 6.
 * For |x| ≥ 6, |1 − |erf(x)|| < 2.2e-17, below float64 resolution around 1.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === 0) return x;
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  const x2 = ax * ax;
  let term = ax;
  let sum = ax;
  for (let n = 1; n < 1000; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** ACT2FN subset (transformers `activations.py`). Unknown names throw. */
export function activation(name: string): (x: number) => number {
  switch (name) {
    case 'gelu':
      return (x) => 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    case 'gelu_fast':
      return (x) => 0.5 * x * (1 + Math.tanh(0.7978845608 * x * (1 + 0.044715 * x * x)));
    case 'quick_gelu':
      return (x) => x * sigmoid(1.702 * x);
    case 'silu':
    case 'swish':
      return (x) => x * sigmoid(x);
    case 'relu':
      return (x) => (x > 0 ? x : 0);
    case 'tanh':
      return (x) => Math.tanh(x);
    case 'sigmoid':
      return sigmoid;
    case 'linear':
      return (x) => x;
    default:
      throw new Error(`naive-lm: unknown activation "${name}"`);
  }
}

/** LayerNorm with population variance: (x − μ)/√(σ² + eps) · w + b. */
export function layerNorm(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, eps: number): Float64Array {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (x[i] - mean) * (x[i] - mean);
  variance /= n;
  const inv = 1 / Math.sqrt(variance + eps);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = (x[i] - mean) * inv * w[i] + b[i];
  return y;
}

/** RMSNorm: x / √(mean(x²) + eps) · w. */
export function rmsNorm(x: ArrayLike<number>, w: ArrayLike<number>, eps: number): Float64Array {
  const n = x.length;
  let ms = 0;
  for (let i = 0; i < n; i++) ms += x[i] * x[i];
  ms /= n;
  const inv = 1 / Math.sqrt(ms + eps);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = x[i] * inv * w[i];
  return y;
}

/** nn.Linear: W stored [out, in]; y[o] = Σ_i W[o, i]·x[i] + b[o]. */
function linear(x: Float64Array, W: Float64Array, b: Float64Array | null, nOut: number): Float64Array {
  const nIn = x.length;
  const y = new Float64Array(nOut);
  for (let o = 0; o < nOut; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < nIn; i++) s += W[o * nIn + i] * x[i];
    y[o] = s;
  }
  return y;
}

/** GPT-2 Conv1D: W stored [in, out]; y[o] = Σ_i x[i]·W[i, o] + b[o]. */
function conv1d(x: Float64Array, W: Float64Array, b: Float64Array, nOut: number): Float64Array {
  const nIn = x.length;
  const y = new Float64Array(nOut);
  for (let o = 0; o < nOut; o++) {
    let s = b[o];
    for (let i = 0; i < nIn; i++) s += x[i] * W[i * nOut + o];
    y[o] = s;
  }
  return y;
}

function addInPlace(x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i];
}

// ───────────────────────────── RoPE ─────────────────────────────

const f32 = Math.fround;

function isObj(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function present(raw: Raw, key: string): boolean {
  return raw[key] !== undefined && raw[key] !== null;
}

function numOr(raw: Raw, key: string, dflt: number): number {
  const v = raw[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`naive-lm: config "${key}" must be a number`);
  return v;
}

function boolOr(raw: Raw, key: string, dflt: boolean): boolean {
  const v = raw[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw new Error(`naive-lm: config "${key}" must be a boolean`);
  return v;
}

function requireNum(obj: Raw, key: string): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`naive-lm: rope scaling needs numeric "${key}"`);
  return v;
}

/**
 * RoPE inverse frequencies, float32-rounded like HF's float32 tensors (spec §4).
 * theta = rope_parameters.rope_theta ?? rope_theta ?? 10000; type from rope_parameters / rope_scaling
 * (`rope_type` or the BC alias `type`): 'default', 'linear', 'llama3'. Anything else throws.
 */
export function ropeInvFreq(raw: Raw, headDim: number, seqLen = 0): number[] {
  const rp = isObj(raw.rope_parameters) ? raw.rope_parameters : {};
  const rs = isObj(raw.rope_scaling) ? raw.rope_scaling : {};
  const params: Raw = { ...rs, ...rp };
  const theta = numOr(params, 'rope_theta', numOr(raw, 'rope_theta', 10000));
  const type = (params.rope_type ?? params.type ?? 'default') as string;
  const partial = numOr(params, 'partial_rotary_factor', numOr(raw, 'partial_rotary_factor', 1));
  if (partial !== 1) throw new Error('naive-lm: partial_rotary_factor ≠ 1 is not implemented');

  const dim = headDim;
  // HF: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all float32.
  const powers = (b: number): number[] => Array.from({ length: dim / 2 }, (_, i) => f32(Math.pow(b, f32((2 * i) / dim))));
  const base = powers(theta).map((p) => f32(1 / p));
  if (type === 'dynamic') {
    // base' = θ·((f·L/M) − (f − 1))^(dim/(dim−2)) with L = max(seqLen, M), M = max_position_embeddings.
    const M = numOr(raw, 'max_position_embeddings', 2048);
    const f = requireNum(params, 'factor');
    const L = Math.max(seqLen, M);
    return powers(theta * Math.pow((f * L) / M - (f - 1), dim / (dim - 2))).map((p) => f32(1 / p));
  }
  if (type === 'yarn') {
    // YaRN (spec §4): blend interpolated (÷f) and original frequencies with a linear ramp over the
    // dimensions between the beta_fast and beta_slow correction dimensions.
    const f = requireNum(params, 'factor');
    const Lo = numOr(params, 'original_max_position_embeddings', numOr(raw, 'max_position_embeddings', 2048));
    const cd = (r: number): number => (dim * Math.log(Lo / (r * 2 * Math.PI))) / (2 * Math.log(theta));
    const truncate = params.truncate !== false;
    const lo = Math.max(truncate ? Math.floor(cd(numOr(params, 'beta_fast', 32))) : cd(numOr(params, 'beta_fast', 32)), 0);
    let hi = Math.min(truncate ? Math.ceil(cd(numOr(params, 'beta_slow', 1))) : cd(numOr(params, 'beta_slow', 1)), dim - 1);
    if (hi === lo) hi += 0.001;
    return powers(theta).map((p, i) => {
      const ramp = Math.min(1, Math.max(0, f32((i - lo) / (hi - lo))));
      const keep = f32(1 - ramp); // weight of the original (extrapolated) frequency
      return f32(f32(f32(1 / f32(f * p)) * f32(1 - keep)) + f32(f32(1 / p) * keep));
    });
  }
  if (type === 'default') return base;
  if (type === 'linear') {
    const factor = requireNum(params, 'factor');
    return base.map((v) => f32(v / factor));
  }
  if (type === 'llama3') {
    const factor = requireNum(params, 'factor');
    const low = requireNum(params, 'low_freq_factor');
    const high = requireNum(params, 'high_freq_factor');
    const L = requireNum(params, 'original_max_position_embeddings');
    const lowWavelen = L / low; // Python floats in HF
    const highWavelen = L / high;
    return base.map((inv) => {
      const wavelen = f32(f32(2 * Math.PI) / inv);
      if (wavelen > f32(lowWavelen)) return f32(inv / f32(factor)); // low frequency: fully interpolated
      if (wavelen < f32(highWavelen)) return inv; // high frequency: unchanged
      // medium: s = (L/wavelen − l)/(h − l); inv' = (1 − s)·inv/f + s·inv
      const s = f32(f32(f32(f32(L) / wavelen) - f32(low)) / f32(high - low));
      return f32(f32(f32(f32(1 - s) * inv) / f32(factor)) + f32(s * inv));
    });
  }
  throw new Error(`naive-lm: rope type "${type}" is not implemented`);
}

/**
 * Half-split RoPE on one head vector (length headDim): with x₁ = x[0:d/2], x₂ = x[d/2:d] and
 * θᵢ = fround(pos·inv_freq[i]): out₁ = x₁·cos θ − x₂·sin θ, out₂ = x₂·cos θ + x₁·sin θ
 * (i.e. x·cos + rotate_half(x)·sin with cos/sin duplicated as [θ, θ]).
 */
export function applyRope(x: ArrayLike<number>, pos: number, invFreq: number[], scale = 1): Float64Array {
  const half = invFreq.length;
  if (x.length !== 2 * half) throw new Error('naive-lm: applyRope length mismatch');
  const y = new Float64Array(x.length);
  for (let i = 0; i < half; i++) {
    const angle = f32(pos * invFreq[i]);
    const c = Math.cos(angle) * scale;
    const s = Math.sin(angle) * scale;
    y[i] = x[i] * c - x[i + half] * s;
    y[i + half] = x[i + half] * c + x[i] * s;
  }
  return y;
}

// ───────────────────────────── config ─────────────────────────────

export interface NaiveConfig {
  family: Family;
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  inner: number;
  act: string;
  eps: number;
  tie: boolean;
  // gpt2
  nPositions: number;
  scaleAttnWeights: boolean;
  scaleByInverseLayerIdx: boolean;
  // llama family
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  /** null = no sliding window. */
  slidingWindow: number | null;
  /** Layers the window applies to; null = all (Mistral). */
  windowLayers: Set<number> | null;
  invFreq: number[];
  /** yarn's attention factor on cos and sin; 1 otherwise. */
  ropeScale: number;
}

/** yarn: attention_factor ?? 0.1·ln f + 1 (or the mscale ratio); 1 for every other rope type. */
export function ropeAttentionScale(raw: Raw): number {
  const rp = isObj(raw.rope_parameters) ? raw.rope_parameters : isObj(raw.rope_scaling) ? raw.rope_scaling : {};
  if ((rp.rope_type ?? rp.type) !== 'yarn') return 1;
  const f = requireNum(rp, 'factor');
  const m = (scale: number, ms: number): number => (scale <= 1 ? 1 : 0.1 * ms * Math.log(scale) + 1);
  if (typeof rp.attention_factor === 'number') return rp.attention_factor;
  if (typeof rp.mscale === 'number' && rp.mscale && typeof rp.mscale_all_dim === 'number' && rp.mscale_all_dim) {
    return m(f, rp.mscale) / m(f, rp.mscale_all_dim);
  }
  return m(f, 1);
}

function intOr(raw: Raw, key: string, dflt: number): number {
  const v = numOr(raw, key, dflt);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`naive-lm: config "${key}" must be a positive integer`);
  return v;
}

/** config.json → resolved values, HF class defaults for absent keys (spec §1, §3). */
export function resolveConfig(raw: Raw): NaiveConfig {
  const family = raw.model_type as Family;
  if (family === 'gpt2') {
    if (boolOr(raw, 'add_cross_attention', false)) throw new Error('naive-lm: add_cross_attention is not supported');
    const hidden = intOr(raw, 'n_embd', 768);
    const heads = intOr(raw, 'n_head', 12);
    if (hidden % heads !== 0) throw new Error('naive-lm: n_embd must be divisible by n_head');
    return {
      family,
      vocab: intOr(raw, 'vocab_size', 50257),
      hidden,
      layers: intOr(raw, 'n_layer', 12),
      heads,
      kvHeads: heads,
      headDim: hidden / heads,
      inner: intOr(raw, 'n_inner', 4 * hidden),
      act: (raw.activation_function as string | undefined) ?? 'gelu_new',
      eps: numOr(raw, 'layer_norm_epsilon', 1e-5),
      tie: boolOr(raw, 'tie_word_embeddings', true),
      nPositions: intOr(raw, 'n_positions', 1024),
      scaleAttnWeights: boolOr(raw, 'scale_attn_weights', true),
      scaleByInverseLayerIdx: boolOr(raw, 'scale_attn_by_inverse_layer_idx', false),
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      slidingWindow: null,
      windowLayers: null,
      invFreq: [],
      ropeScale: 1,
    };
  }
  if (family !== 'llama' && family !== 'mistral' && family !== 'qwen2') {
    throw new Error(`naive-lm: unsupported model_type ${JSON.stringify(raw.model_type)}`);
  }
  const defaults = {
    llama: { vocab: 32000, inter: 11008, kv: null as number | null },
    mistral: { vocab: 32000, inter: 14336, kv: 8 },
    qwen2: { vocab: 151936, inter: 22016, kv: 32 },
  }[family];
  const hidden = intOr(raw, 'hidden_size', 4096);
  const heads = intOr(raw, 'num_attention_heads', 32);
  // Absent key → class default; explicit null → num_attention_heads (as the HF config classes do).
  let kvHeads: number;
  if (!('num_key_value_heads' in raw)) kvHeads = defaults.kv ?? heads;
  else kvHeads = intOr(raw, 'num_key_value_heads', heads);
  if (heads % kvHeads !== 0) throw new Error('naive-lm: num_attention_heads must be a multiple of num_key_value_heads');
  const headDim = present(raw, 'head_dim') ? intOr(raw, 'head_dim', 0) : hidden / heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new Error('naive-lm: head_dim must be an even integer');

  let qkvBias = false;
  let oBias = false;
  let mlpBias = false;
  let slidingWindow: number | null = null;
  let windowLayers: Set<number> | null = null;
  if (family === 'llama') {
    qkvBias = oBias = boolOr(raw, 'attention_bias', false);
    mlpBias = boolOr(raw, 'mlp_bias', false);
  } else if (family === 'qwen2') {
    qkvBias = true;
    // Qwen2: the window (default 4096) applies to layers ≥ max_window_layers (default 28) when enabled.
    if (boolOr(raw, 'use_sliding_window', false) && raw.sliding_window !== null) {
      slidingWindow = intOr(raw, 'sliding_window', 4096);
      const first = numOr(raw, 'max_window_layers', 28);
      windowLayers = new Set(Array.from({ length: intOr(raw, 'num_hidden_layers', 32) }, (_, i) => i).filter((i) => i >= first));
    }
  } else {
    // mistral: class default 4096 when the key is absent; explicit null disables.
    if (!('sliding_window' in raw)) slidingWindow = 4096;
    else if (raw.sliding_window === null) slidingWindow = null;
    else slidingWindow = intOr(raw, 'sliding_window', 4096);
  }
  return {
    family,
    vocab: intOr(raw, 'vocab_size', defaults.vocab),
    hidden,
    layers: intOr(raw, 'num_hidden_layers', 32),
    heads,
    kvHeads,
    headDim,
    inner: intOr(raw, 'intermediate_size', defaults.inter),
    act: (raw.hidden_act as string | undefined) ?? 'silu',
    eps: numOr(raw, 'rms_norm_eps', 1e-6),
    tie: boolOr(raw, 'tie_word_embeddings', false),
    nPositions: Infinity,
    scaleAttnWeights: true,
    scaleByInverseLayerIdx: false,
    qkvBias,
    oBias,
    mlpBias,
    slidingWindow,
    windowLayers,
    invFreq: ropeInvFreq(raw, headDim),
    ropeScale: ropeAttentionScale(raw),
  };
}

// ───────────────────────────── weights ─────────────────────────────

/** Looks tensors up with or without the base-model prefix, checks their length, tracks what was used. */
class Weights {
  private readonly used = new Set<string>();
  constructor(
    private readonly map: Map<string, Float32Array>,
    private readonly prefix: string,
  ) {}

  private resolve(name: string, topLevel: boolean): string | undefined {
    const candidates = topLevel ? [name] : [this.prefix + name, name];
    return candidates.find((c) => this.map.has(c));
  }

  has(name: string, topLevel = false): boolean {
    return this.resolve(name, topLevel) !== undefined;
  }

  get(name: string, length: number, topLevel = false): Float64Array {
    const key = this.resolve(name, topLevel);
    if (key === undefined) throw new Error(`naive-lm: missing tensor "${name}"`);
    const src = this.map.get(key)!;
    if (src.length !== length) throw new Error(`naive-lm: tensor "${key}" has ${src.length} elements, expected ${length}`);
    this.used.add(key);
    return Float64Array.from(src);
  }

  /** Throws on tensors that were not consumed and are not known ignorable buffers. */
  checkAllUsed(ignore: (name: string) => boolean): void {
    const unknown = [...this.map.keys()].filter((k) => !this.used.has(k) && !ignore(k));
    if (unknown.length > 0) throw new Error(`naive-lm: unexpected tensors: ${unknown.join(', ')}`);
  }
}

// ───────────────────────────── attention ─────────────────────────────

/**
 * Eager attention for one layer. q[t]: heads·hd, k[t], v[t]: kvHeads·hd. Query head h reads kv head
 * ⌊h / (heads/kvHeads)⌋. Disallowed (i, j) get −1e30 added to the score (HF adds finfo.min), and the
 * softmax runs over all T keys, so a fully masked row becomes uniform (finite) like HF's.
 */
function attention(
  q: Float64Array[],
  k: Float64Array[],
  v: Float64Array[],
  heads: number,
  kvHeads: number,
  hd: number,
  scoreScale: (dot: number) => number,
  allowed: (i: number, j: number) => boolean,
): Float64Array[] {
  const T = q.length;
  const group = heads / kvHeads;
  const out: Float64Array[] = [];
  for (let i = 0; i < T; i++) {
    const o = new Float64Array(heads * hd);
    for (let h = 0; h < heads; h++) {
      const kvh = Math.floor(h / group);
      const scores = new Float64Array(T);
      for (let j = 0; j < T; j++) {
        let dot = 0;
        for (let e = 0; e < hd; e++) dot += q[i][h * hd + e] * k[j][kvh * hd + e];
        scores[j] = scoreScale(dot) + (allowed(i, j) ? 0 : -1e30);
      }
      let max = -Infinity;
      for (let j = 0; j < T; j++) max = Math.max(max, scores[j]);
      let denom = 0;
      for (let j = 0; j < T; j++) {
        scores[j] = Math.exp(scores[j] - max);
        denom += scores[j];
      }
      for (let j = 0; j < T; j++) {
        const p = scores[j] / denom;
        for (let e = 0; e < hd; e++) o[h * hd + e] += p * v[j][kvh * hd + e];
      }
    }
    out.push(o);
  }
  return out;
}

// ───────────────────────────── forward ─────────────────────────────

export interface NaiveOptions {
  /** Defaults to 0..T−1. */
  positionIds?: number[];
  /** 1 = real token, 0 = padding key (never attended). Defaults to all ones. */
  attentionMask?: number[];
}

export interface NaiveOutput {
  /** hidden[t] = final hidden state at position t, after the final norm. */
  hidden: Float64Array[];
  /** logits[t] = LM-head output at position t (vocab_size entries). */
  logits: Float64Array[];
}

/**
 * raw = parsed config.json; weights = HF tensor name → row-major Float32Array exactly as stored in the
 * safetensors file (names may carry the `transformer.` / `model.` prefix or not, as in real checkpoints).
 */
export function naiveForward(raw: Raw, weights: Map<string, Float32Array>, ids: number[], opts: NaiveOptions = {}): NaiveOutput {
  const cfg = resolveConfig(raw);
  const T = ids.length;
  if (T === 0) throw new Error('naive-lm: empty input');
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= cfg.vocab) throw new Error(`naive-lm: token id ${id} out of range`);
  }
  const positions = opts.positionIds ?? ids.map((_, t) => t);
  const mask = opts.attentionMask ?? ids.map(() => 1);
  if (positions.length !== T || mask.length !== T) throw new Error('naive-lm: positionIds/attentionMask length ≠ ids length');
  const W = cfg.slidingWindow;
  const allowed = (i: number, j: number, layer: number): boolean =>
    j <= i && mask[j] !== 0 && (W === null || (cfg.windowLayers !== null && !cfg.windowLayers.has(layer)) || j > i - W);
  if (cfg.family !== 'gpt2') cfg.invFreq = ropeInvFreq(raw, cfg.headDim, Math.max(...positions) + 1);
  return cfg.family === 'gpt2' ? gpt2Forward(cfg, weights, ids, positions, allowed) : llamaForward(cfg, weights, ids, positions, allowed);
}

function lmHead(cfg: NaiveConfig, w: Weights, embedding: Float64Array, hidden: Float64Array[]): Float64Array[] {
  const head = cfg.tie ? embedding : w.get('lm_head.weight', cfg.vocab * cfg.hidden, true);
  return hidden.map((h) => linear(h, head, null, cfg.vocab)); // [V, d] · h
}

function gpt2Forward(
  cfg: NaiveConfig,
  weights: Map<string, Float32Array>,
  ids: number[],
  positions: number[],
  allowed: (i: number, j: number, layer: number) => boolean,
): NaiveOutput {
  const w = new Weights(weights, 'transformer.');
  const d = cfg.hidden;
  const hd = cfg.headDim;
  const wte = w.get('wte.weight', cfg.vocab * d);
  const wpe = w.get('wpe.weight', cfg.nPositions * d);
  const act = activation(cfg.act);

  const x: Float64Array[] = ids.map((id, t) => {
    const p = positions[t];
    if (!Number.isInteger(p) || p < 0 || p >= cfg.nPositions) throw new Error(`naive-lm: position ${p} outside wpe`);
    const v = new Float64Array(d);
    for (let e = 0; e < d; e++) v[e] = wte[id * d + e] + wpe[p * d + e];
    return v;
  });

  for (let l = 0; l < cfg.layers; l++) {
    const pre = `h.${l}.`;
    const ln1w = w.get(pre + 'ln_1.weight', d);
    const ln1b = w.get(pre + 'ln_1.bias', d);
    const cAttnW = w.get(pre + 'attn.c_attn.weight', d * 3 * d);
    const cAttnB = w.get(pre + 'attn.c_attn.bias', 3 * d);
    const cProjW = w.get(pre + 'attn.c_proj.weight', d * d);
    const cProjB = w.get(pre + 'attn.c_proj.bias', d);
    const ln2w = w.get(pre + 'ln_2.weight', d);
    const ln2b = w.get(pre + 'ln_2.bias', d);
    const fcW = w.get(pre + 'mlp.c_fc.weight', d * cfg.inner);
    const fcB = w.get(pre + 'mlp.c_fc.bias', cfg.inner);
    const mProjW = w.get(pre + 'mlp.c_proj.weight', cfg.inner * d);
    const mProjB = w.get(pre + 'mlp.c_proj.bias', d);

    // attention: c_attn output = [q | k | v], each d wide, heads contiguous inside each.
    const q: Float64Array[] = [];
    const k: Float64Array[] = [];
    const v: Float64Array[] = [];
    for (const xt of x) {
      const qkv = conv1d(layerNorm(xt, ln1w, ln1b, cfg.eps), cAttnW, cAttnB, 3 * d);
      q.push(qkv.slice(0, d));
      k.push(qkv.slice(d, 2 * d));
      v.push(qkv.slice(2 * d, 3 * d));
    }
    const scale = (dot: number): number => {
      let s = dot;
      if (cfg.scaleAttnWeights) s = s / Math.sqrt(hd);
      if (cfg.scaleByInverseLayerIdx) s = s / (l + 1);
      return s;
    };
    const a = attention(q, k, v, cfg.heads, cfg.heads, hd, scale, (i, j) => allowed(i, j, l));
    for (let t = 0; t < x.length; t++) addInPlace(x[t], conv1d(a[t], cProjW, cProjB, d));

    // MLP: c_proj(act(c_fc(LN2 x)))
    for (const xt of x) {
      const hmid = conv1d(layerNorm(xt, ln2w, ln2b, cfg.eps), fcW, fcB, cfg.inner).map(act);
      addInPlace(xt, conv1d(hmid, mProjW, mProjB, d));
    }
  }

  const lnfW = w.get('ln_f.weight', d);
  const lnfB = w.get('ln_f.bias', d);
  const hidden = x.map((xt) => layerNorm(xt, lnfW, lnfB, cfg.eps));
  const logits = lmHead(cfg, w, wte, hidden);
  w.checkAllUsed(
    (name) =>
      /(^|\.)h\.\d+\.attn\.(bias|masked_bias)$/.test(name) || // causal-mask buffers in old checkpoints
      (cfg.tie && name === 'lm_head.weight'), // HF re-ties
  );
  return { hidden, logits };
}

function llamaForward(
  cfg: NaiveConfig,
  weights: Map<string, Float32Array>,
  ids: number[],
  positions: number[],
  allowed: (i: number, j: number, layer: number) => boolean,
): NaiveOutput {
  const w = new Weights(weights, 'model.');
  const d = cfg.hidden;
  const hd = cfg.headDim;
  const H = cfg.heads;
  const KV = cfg.kvHeads;
  const I = cfg.inner;
  const act = activation(cfg.act);
  const emb = w.get('embed_tokens.weight', cfg.vocab * d);
  const opt = (name: string, len: number, has: boolean): Float64Array | null => (has ? w.get(name, len) : null);

  const x: Float64Array[] = ids.map((id) => emb.slice(id * d, (id + 1) * d));

  for (let l = 0; l < cfg.layers; l++) {
    const pre = `layers.${l}.`;
    const inNorm = w.get(pre + 'input_layernorm.weight', d);
    const postNorm = w.get(pre + 'post_attention_layernorm.weight', d);
    const Wq = w.get(pre + 'self_attn.q_proj.weight', H * hd * d);
    const Wk = w.get(pre + 'self_attn.k_proj.weight', KV * hd * d);
    const Wv = w.get(pre + 'self_attn.v_proj.weight', KV * hd * d);
    const Wo = w.get(pre + 'self_attn.o_proj.weight', d * H * hd);
    const bq = opt(pre + 'self_attn.q_proj.bias', H * hd, cfg.qkvBias);
    const bk = opt(pre + 'self_attn.k_proj.bias', KV * hd, cfg.qkvBias);
    const bv = opt(pre + 'self_attn.v_proj.bias', KV * hd, cfg.qkvBias);
    const bo = opt(pre + 'self_attn.o_proj.bias', d, cfg.oBias);
    const Wg = w.get(pre + 'mlp.gate_proj.weight', I * d);
    const Wu = w.get(pre + 'mlp.up_proj.weight', I * d);
    const Wd = w.get(pre + 'mlp.down_proj.weight', d * I);
    const bg = opt(pre + 'mlp.gate_proj.bias', I, cfg.mlpBias);
    const bu = opt(pre + 'mlp.up_proj.bias', I, cfg.mlpBias);
    const bd = opt(pre + 'mlp.down_proj.bias', d, cfg.mlpBias);

    const q: Float64Array[] = [];
    const k: Float64Array[] = [];
    const v: Float64Array[] = [];
    for (let t = 0; t < x.length; t++) {
      const h = rmsNorm(x[t], inNorm, cfg.eps);
      const qt = linear(h, Wq, bq, H * hd);
      const kt = linear(h, Wk, bk, KV * hd);
      // RoPE on every q and k head (not v).
      for (let head = 0; head < H; head++) {
        qt.set(applyRope(qt.subarray(head * hd, (head + 1) * hd), positions[t], cfg.invFreq, cfg.ropeScale), head * hd);
      }
      for (let head = 0; head < KV; head++) {
        kt.set(applyRope(kt.subarray(head * hd, (head + 1) * hd), positions[t], cfg.invFreq, cfg.ropeScale), head * hd);
      }
      q.push(qt);
      k.push(kt);
      v.push(linear(h, Wv, bv, KV * hd));
    }
    const scaling = Math.pow(hd, -0.5);
    const a = attention(q, k, v, H, KV, hd, (dot) => dot * scaling, (i, j) => allowed(i, j, l));
    for (let t = 0; t < x.length; t++) addInPlace(x[t], linear(a[t], Wo, bo, d));

    // MLP: down(act(gate h) · up h), h = RMSNorm(x)
    for (const xt of x) {
      const h = rmsNorm(xt, postNorm, cfg.eps);
      const g = linear(h, Wg, bg, I);
      const u = linear(h, Wu, bu, I);
      const m = new Float64Array(I);
      for (let i = 0; i < I; i++) m[i] = act(g[i]) * u[i];
      addInPlace(xt, linear(m, Wd, bd, d));
    }
  }

  const normW = w.get('norm.weight', d);
  const hidden = x.map((xt) => rmsNorm(xt, normW, cfg.eps));
  const logits = lmHead(cfg, w, emb, hidden);
  w.checkAllUsed((name) => name.endsWith('rotary_emb.inv_freq') || (cfg.tie && name === 'lm_head.weight'));
  return { hidden, logits };
}

// ───────────────────────────── greedy ─────────────────────────────

/** Index of the largest value; ties go to the lowest index (torch.argmax). */
export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/**
 * Greedy decoding with a full recompute each step. Returns only the NEW tokens (prompt excluded).
 * Stops after emitting a token in eosIds (that token is kept) or after maxNewTokens tokens.
 */
export function naiveGreedy(
  raw: Raw,
  weights: Map<string, Float32Array>,
  promptIds: number[],
  maxNewTokens: number,
  eosIds: number[],
): number[] {
  const seq = [...promptIds];
  const out: number[] = [];
  for (let step = 0; step < maxNewTokens; step++) {
    const { logits } = naiveForward(raw, weights, seq);
    const next = argmax(logits[logits.length - 1]);
    seq.push(next);
    out.push(next);
    if (eosIds.includes(next)) break;
  }
  return out;
}
