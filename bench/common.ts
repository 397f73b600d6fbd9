/**
 * Shared pieces of bench/train.ts and bench/decode.ts: flags, timing statistics, machine facts, and
 * the benchmark models — a real Hugging Face folder (`--model DIR`), else a random-weight Llama of the
 * bundled model's size written to a temp folder, and GPT-2-small shapes built in memory.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import { CausalLM } from '../src/lm/causal-lm.js';
import { parseModelConfig } from '../src/lm/config.js';
import { loadCausalLM } from '../src/lm/load.js';
import { PargsTokenizer } from '../src/lm/tokenizer.js';
import { Transformer } from '../src/lm/transformer.js';
import { EOT, tinyTokenizerJson, writeTinyModel } from '../test/helpers/tiny-model.js';
import { GPT2_SMALL, randomParams, type BenchShape } from './engine-model.js';

/** The project root (the folder holding package.json). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

/** `--name value` from argv, or undefined. */
export function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const value = process.argv[i + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`--${name} needs a value`);
  return value;
}

export function intFlag(name: string, fallback: number): number {
  const raw = flag(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${raw}`);
  return n;
}

export const hasFlag = (name: string): boolean => process.argv.includes(`--${name}`);

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

export function machine(): { cpu: string; cores: number; os: string; node: string; tfjs: string; loadAverage1m: number } {
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, os: `${os.type()} ${os.release()}`, node: process.version, tfjs: tf.version_core, loadAverage1m: round(os.loadavg()[0]) };
}

export const loadAverage = (): number => round(os.loadavg()[0]);

/** Sizes of the bundled model (models/sotu-lm), used while it is not there. */
export const BUNDLED_SIZE = { vocab: 4096, hidden: 256, layers: 4, heads: 4, kvHeads: 4, intermediate: 688 };

export interface BenchModel {
  /** Human label for tables. */
  label: string;
  /** Folder the model was loaded from. */
  dir: string;
  /** True for random weights written by the benchmark. */
  random: boolean;
  lm: CausalLM;
  /** A second, independent load of the same folder (a separate reward backbone). */
  reload(): Promise<CausalLM>;
  /** Disposes nothing; removes the temp folder of a random model. */
  cleanup(): Promise<void>;
}

/** `--model DIR` if given (must be a Hugging Face folder), else a random Llama of the bundled size in a temp folder. */
export async function benchModel(dirFlag: string | undefined): Promise<BenchModel> {
  if (dirFlag !== undefined) {
    const dir = resolve(dirFlag);
    if (!existsSync(join(dir, 'config.json'))) {
      throw new Error(`--model ${dirFlag}: no config.json there (the bundled model may still be training); omit --model to use a random model of its size`);
    }
    const lm = await loadCausalLM(dir);
    const c = lm.config;
    return {
      label: `${dirFlag} (${c.modelType} ${c.numLayers}×${c.hiddenSize}, V ${c.vocabSize})`,
      dir,
      random: false,
      lm,
      reload: () => loadCausalLM(dir),
      cleanup: async () => undefined,
    };
  }
  const s = BUNDLED_SIZE;
  const tiny = await writeTinyModel({ modelType: 'llama', seed: 11, scale: 0.02, ...s });
  const lm = await loadCausalLM(tiny.dir);
  return {
    label: `random llama ${s.layers}×${s.hidden} (V ${s.vocab})`,
    dir: tiny.dir,
    random: true,
    lm,
    reload: () => loadCausalLM(tiny.dir),
    cleanup: () => rm(tiny.dir, { recursive: true, force: true }),
  };
}

/**
 * GPT-2-small shapes (12 layers, d 768, 12 heads, V 50257, 1024 positions) with random weights built in
 * memory from `seed` (bench/engine-model.ts), and the tiny byte-level tokenizer (token-id benchmarks
 * only). The same seed gives the same weights, so two calls are two independent loads of one model.
 */
export function gpt2SmallInMemory(seed = 1): Promise<CausalLM> {
  return inMemoryModel(GPT2_SMALL, seed);
}

/**
 * Any bench shape (bench/engine-model.ts) with random weights built in memory, as `gpt2SmallInMemory`;
 * BOS = EOS = the last id, so random prompts drawn below it never stop a row.
 */
export async function inMemoryModel(shape: BenchShape, seed = 1): Promise<CausalLM> {
  const backend = await initBackend();
  const last = Number(shape.raw.vocab_size) - 1;
  const config = parseModelConfig({ ...shape.raw, bos_token_id: last, eos_token_id: last }, `${shape.name} (random, in memory)`);
  const tokenizer = PargsTokenizer.fromJson(tinyTokenizerJson().json, { tokenizer_class: 'GPT2Tokenizer', bos_token: EOT, eos_token: EOT });
  const generation = { bosTokenId: config.bosTokenId, eosTokenIds: config.eosTokenIds, padTokenId: null, repetitionPenalty: 1, unsupportedProcessors: [] };
  return new CausalLM(config, tokenizer, generation, new Transformer(config, randomParams(config, seed)), backend, `memory:${shape.name}`, `memory:${shape.name}:${seed}`);
}

export const GPT2_SMALL_LABEL = 'random gpt2-small shapes (12×768, V 50257)';

/** Markdown table from a header row and body rows. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}
