/**
 * Writes tiny random Hugging Face model folders for tests: config.json, model.safetensors (HF names and
 * layouts), a byte-level tokenizer.json (256 byte tokens, a few merges, <|endoftext|>) and
 * tokenizer_config.json. Returns the raw weights as stored, for the independent reference forward.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import seedrandom from 'seedrandom';
import { decodeBF16, decodeF16, encodeBF16, encodeF16 } from '../../src/io/float16.js';
import { writeSafetensors } from '../../src/io/safetensors.js';

export type TinyType = 'gpt2' | 'llama' | 'mistral' | 'qwen2';

export interface TinyOptions {
  modelType: TinyType;
  seed?: number;
  vocab?: number;
  hidden?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  intermediate?: number;
  tie?: boolean;
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Store names with the base-model prefix (`transformer.` / `model.`); default: GPT-2 without, Llama with. */
  prefixed?: boolean;
  /** Extra or overriding config.json fields. */
  config?: Record<string, unknown>;
  /** A `chat_template` for tokenizer_config.json (a Jinja string, or named templates); none by default. */
  chatTemplate?: string | { name: string; template: string }[];
  /**
   * Write a `*ForSequenceClassification` reward model instead of a causal LM: no lm_head, a
   * `score.weight` [numLabels (default 1), scoreWidth (default hidden)] unless `omitScore`.
   */
  seqCls?: { numLabels?: number; scoreWidth?: number; omitScore?: boolean };
  /** Weight scale (standard deviation of the random normal entries). */
  scale?: number;
  dir?: string;
}

export interface TinyModel {
  dir: string;
  config: Record<string, unknown>;
  /** Weights exactly as stored (after F16/BF16 rounding), HF names. */
  weights: Map<string, Float32Array>;
  shapes: Map<string, number[]>;
}

/** GPT-2's reversible byte → printable-unicode map. */
export function byteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const map: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  return map;
}

export const EOT = '<|endoftext|>';

/** A byte-level BPE tokenizer.json: 256 bytes, merges for " t", "th", "he", " the", then <|endoftext|>. */
export function tinyTokenizerJson(): { json: Record<string, unknown>; eotId: number } {
  const bytes = byteToUnicode();
  const vocab: Record<string, number> = {};
  bytes.forEach((ch, id) => (vocab[ch] = id));
  const space = bytes[32];
  const merges = [`${space} t`, 't h', 'h e', `${space}t he`];
  for (const m of merges) vocab[m.replace(' ', '')] = Object.keys(vocab).length;
  const eotId = Object.keys(vocab).length;
  return {
    eotId,
    json: {
      version: '1.0',
      added_tokens: [{ id: eotId, content: EOT, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges },
    },
  };
}

function normal(rng: () => number): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

export async function writeTinyModel(o: TinyOptions): Promise<TinyModel> {
  const rng = seedrandom(`tiny:${o.seed ?? 0}`);
  const vocab = o.vocab ?? 300;
  const d = o.hidden ?? 32;
  const layers = o.layers ?? 2;
  const heads = o.heads ?? 4;
  const kvHeads = o.kvHeads ?? heads;
  const hd = (o.config?.head_dim as number | undefined) ?? d / heads;
  const inter = o.intermediate ?? 2 * d;
  const gpt2 = o.modelType === 'gpt2';
  const tie = o.tie ?? gpt2;
  const scale = o.scale ?? 0.2;
  const { json: tokJson, eotId } = tinyTokenizerJson();
  const config: Record<string, unknown> = gpt2
    ? { model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], vocab_size: vocab, n_embd: d, n_layer: layers, n_head: heads, n_positions: 64, bos_token_id: eotId, eos_token_id: eotId, ...(tie ? {} : { tie_word_embeddings: false }) }
    : {
        model_type: o.modelType,
        architectures: [o.modelType === 'qwen2' ? 'Qwen2ForCausalLM' : o.modelType === 'mistral' ? 'MistralForCausalLM' : 'LlamaForCausalLM'],
        vocab_size: vocab,
        hidden_size: d,
        num_hidden_layers: layers,
        num_attention_heads: heads,
        num_key_value_heads: kvHeads,
        intermediate_size: inter,
        max_position_embeddings: 128,
        rms_norm_eps: 1e-5,
        rope_theta: 10000,
        tie_word_embeddings: tie,
        bos_token_id: eotId,
        eos_token_id: eotId,
        ...(o.modelType === 'mistral' ? { sliding_window: null } : {}),
      };
  if (o.seqCls) {
    const arch = { gpt2: 'GPT2', llama: 'Llama', mistral: 'Mistral', qwen2: 'Qwen2' }[o.modelType];
    Object.assign(config, { architectures: [`${arch}ForSequenceClassification`], num_labels: o.seqCls.numLabels ?? 1 });
  }
  Object.assign(config, o.config ?? {});

  const weights = new Map<string, Float32Array>();
  const shapes = new Map<string, number[]>();
  const prefixed = o.prefixed ?? !gpt2;
  const base = prefixed ? (gpt2 ? 'transformer.' : 'model.') : '';
  const add = (name: string, shape: number[], init: 'normal' | 'ones' | 'zeros' = 'normal'): void => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = init === 'ones' ? 1 + 0.1 * normal(rng) : init === 'zeros' ? 0.05 * normal(rng) : scale * normal(rng);
    const stored = o.dtype === 'F16' ? decodeF16(encodeF16(data)) : o.dtype === 'BF16' ? decodeBF16(encodeBF16(data)) : data;
    weights.set(name, stored);
    shapes.set(name, shape);
  };
  const qDim = heads * hd;
  const kvDim = kvHeads * hd;
  if (gpt2) {
    add(`${base}wte.weight`, [vocab, d]);
    add(`${base}wpe.weight`, [64, d]);
    for (let i = 0; i < layers; i++) {
      const p = `${base}h.${i}`;
      add(`${p}.ln_1.weight`, [d], 'ones');
      add(`${p}.ln_1.bias`, [d], 'zeros');
      add(`${p}.attn.c_attn.weight`, [d, 3 * d]);
      add(`${p}.attn.c_attn.bias`, [3 * d], 'zeros');
      add(`${p}.attn.c_proj.weight`, [d, d]);
      add(`${p}.attn.c_proj.bias`, [d], 'zeros');
      add(`${p}.ln_2.weight`, [d], 'ones');
      add(`${p}.ln_2.bias`, [d], 'zeros');
      add(`${p}.mlp.c_fc.weight`, [d, 4 * d]);
      add(`${p}.mlp.c_fc.bias`, [4 * d], 'zeros');
      add(`${p}.mlp.c_proj.weight`, [4 * d, d]);
      add(`${p}.mlp.c_proj.bias`, [d], 'zeros');
    }
    add(`${base}ln_f.weight`, [d], 'ones');
    add(`${base}ln_f.bias`, [d], 'zeros');
  } else {
    const attnBias = o.modelType === 'qwen2' || config.attention_bias === true;
    add(`${base}embed_tokens.weight`, [vocab, d]);
    for (let i = 0; i < layers; i++) {
      const p = `${base}layers.${i}`;
      add(`${p}.input_layernorm.weight`, [d], 'ones');
      add(`${p}.self_attn.q_proj.weight`, [qDim, d]);
      add(`${p}.self_attn.k_proj.weight`, [kvDim, d]);
      add(`${p}.self_attn.v_proj.weight`, [kvDim, d]);
      if (attnBias) {
        add(`${p}.self_attn.q_proj.bias`, [qDim], 'zeros');
        add(`${p}.self_attn.k_proj.bias`, [kvDim], 'zeros');
        add(`${p}.self_attn.v_proj.bias`, [kvDim], 'zeros');
      }
      add(`${p}.self_attn.o_proj.weight`, [d, qDim]);
      if (config.attention_bias === true) add(`${p}.self_attn.o_proj.bias`, [d], 'zeros');
      add(`${p}.post_attention_layernorm.weight`, [d], 'ones');
      add(`${p}.mlp.gate_proj.weight`, [inter, d]);
      add(`${p}.mlp.up_proj.weight`, [inter, d]);
      add(`${p}.mlp.down_proj.weight`, [d, inter]);
    }
    add(`${base}norm.weight`, [d], 'ones');
  }
  if (o.seqCls) {
    if (!o.seqCls.omitScore) add('score.weight', [o.seqCls.numLabels ?? 1, o.seqCls.scoreWidth ?? d]);
  } else if (!tie) add('lm_head.weight', [vocab, d]);

  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), `pargs-tiny-${o.modelType}-`)));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokJson));
  await writeFile(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      tokenizer_class: gpt2 ? 'GPT2Tokenizer' : 'PreTrainedTokenizerFast',
      bos_token: EOT,
      eos_token: EOT,
      add_bos_token: false,
      ...(o.chatTemplate !== undefined ? { chat_template: o.chatTemplate } : {}),
    }),
  );
  const dtype = o.dtype ?? 'F32';
  await writeSafetensors(
    join(dir, 'model.safetensors'),
    [...weights].map(([name, data]) => ({ name, dtype, shape: shapes.get(name) as number[], data })),
  );
  return { dir, config, weights, shapes };
}
