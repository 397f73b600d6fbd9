/**
 * loadCausalLM(dir): a local Hugging Face folder → a ready `CausalLM`.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { autoChoice, BACKEND_NAMES, initBackend, requestedBackend, type BackendName } from '../engine/backend.js';
import { checkArgument, checkOptions, oneOf, required, string, type Schema } from '../options.js';
import { firstNonFinite } from '../engine/finite.js';
import { holdHeapBytes } from '../engine/memory-budget.js';
import { ConfigError, SafetensorsError } from '../errors.js';
import { describeReadFailure, fsErrorCode } from '../io/read-input.js';
import { openSafetensorsDir } from '../io/weight-source.js';
import { CausalLM } from './causal-lm.js';
import { countParameters, parseModelConfig, sequenceClassificationArchitecture } from './config.js';
import { readGenerationDefaults } from './generation-config.js';
import { BASE_PREFIX, lmHeadNames } from './hf-names.js';
import { loadTransformerParams, type WeightReader } from './hf-weights.js';
import { checkModelFits, modelMemory } from './model-memory.js';
import { paramTensors } from './params.js';
import { PargsTokenizer } from './tokenizer.js';
import { Transformer } from './transformer.js';

export interface LoadOptions {
  /** Tensor backend; default: `PARGS_BACKEND`, else native TensorFlow if installed, else wasm, else cpu. */
  backend?: BackendName | 'auto';
}

export const LOAD_SCHEMA: Schema = { backend: oneOf('auto', ...BACKEND_NAMES) };
/**
 * A NaN or ±Infinity weight poisons every output that depends on it (and guided decoding's rewards
 * become null in JSON), so it is refused at load. One pass over the floats already in memory: about
 * 5–7 ms for the bundled 2.6 M-parameter model, about a tenth of its 65 ms load (docs/benchmarks.md).
 */
function refuseNonFinite(dir: string, name: string, data: Float32Array): void {
  const at = firstNonFinite(data);
  if (at >= 0) {
    throw new SafetensorsError(`model folder "${dir}": tensor "${name}" holds ${data[at]} at flat index ${at}; a model with NaN or infinite weights cannot run — re-export or re-download it`);
  }
}

/** Loads config.json, the safetensors weights (single file or sharded), and the tokenizer from `dir`. */
export async function loadCausalLM(dir: string, options: LoadOptions = {}): Promise<CausalLM> {
  checkArgument('loadCausalLM', 'dir', dir, required(string()));
  checkOptions('loadCausalLM', options, LOAD_SCHEMA);
  const { lm } = await loadModelFolder(dir, options, []);
  return lm;
}

/** Reads a model folder's config.json (parsed JSON and its text); typed errors for a missing or broken file. */
export async function readConfigJson(dir: string): Promise<{ path: string; text: string; raw: unknown }> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new ConfigError(`model folder "${dir}" does not exist or is not a folder; pass a local Hugging Face model folder (config.json, model.safetensors, tokenizer.json)`);
  }
  const path = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(fsErrorCode(err) === 'ENOENT' ? `${path} not found: "${dir}" is not a Hugging Face model folder` : describeReadFailure(path, err));
  }
  try {
    return { path, text, raw: JSON.parse(text) };
  } catch (err) {
    throw new ConfigError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * The backbone of a model folder as a `CausalLM`, plus the raw data of the `extra` tensors (a reward
 * model's `score.weight`), which the backbone loader does not see. A folder without an LM head
 * (`lm_head.weight`; GPT-NeoX: `embed_out.weight`) whose config does not tie it (a sequence-classification
 * RM) gets the transposed embedding as a stand-in LM head: the CausalLM stays complete, and a reward
 * model never reads its logits.
 */
export async function loadModelFolder(dir: string, options: LoadOptions, extra: readonly string[]): Promise<{ lm: CausalLM; extra: Map<string, { shape: number[]; data: Float32Array }> }> {
  const { path: configPath, text: configText, raw: rawConfig } = await readConfigJson(dir);
  const config = parseModelConfig(rawConfig, configPath);
  // Auto picks the backend by the model's size (small models run faster on wasm), so the config comes first.
  const workload = { parameters: countParameters(config) };
  const backend = await initBackend({ backend: options.backend, workload });
  const seqCls = sequenceClassificationArchitecture(rawConfig);
  if (seqCls && extra.length === 0) {
    throw new ConfigError(`${configPath} "architectures" is ["${seqCls}"]: "${dir}" is a reward model, not a causal LM; load it with loadRewardModel (CLI: --rm, --judge-rm, --init-rm)`);
  }
  // Refused from the config alone, before a weight is read: on wasm an oversized model would otherwise
  // load and then abort the whole module on its first forward.
  const autoFellBack = requestedBackend(options.backend) === 'auto' && autoChoice(workload).name !== backend.name;
  checkModelFits(config, { dir, backend: backend.name, autoFellBack, readsLogits: !seqCls });
  const tokenizer = await PargsTokenizer.fromDir(dir);
  const generation = await readGenerationDefaults(dir, config);

  const source = await openSafetensorsDir(dir);
  const hash = createHash('sha256').update(configText);
  const { raw: _raw, bosTokenId: _bos, eosTokenIds: _eos, padTokenId: _pad, tieWordEmbeddings: _tie, ...architecture } = config;
  const backboneHash = createHash('sha256').update(JSON.stringify(architecture));
  const found = new Map<string, { shape: number[]; data: Float32Array }>();
  const hidden = new Set(extra);
  const headNames = lmHeadNames(config);
  const noLmHead = !config.tieWordEmbeddings && !headNames.some((n) => source.names().includes(n)) && extra.length > 0;
  // The backbone hash names tensors without the base-model prefix, so prefixed and bare files agree.
  const basePrefix = BASE_PREFIX[config.modelType];
  // Hash every weight as it is read, so the fingerprint names exactly the numbers this model runs.
  const reader: WeightReader = {
    names: () => source.names().filter((n) => !hidden.has(n)),
    info: (name) => source.info(name),
    readF32: async (name) => {
      const data = await source.readF32(name);
      refuseNonFinite(dir, name, data);
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      hash.update(name).update(bytes);
      if (!headNames.includes(name)) backboneHash.update(name.startsWith(basePrefix) ? name.slice(basePrefix.length) : name).update(bytes);
      return data;
    },
  };
  let params;
  try {
    params = await loadTransformerParams(noLmHead ? { ...config, tieWordEmbeddings: true } : config, reader, dir);
    try {
      for (const name of extra) {
        if (!source.names().includes(name)) continue;
        const data = await source.readF32(name);
        refuseNonFinite(dir, name, data);
        hash.update(name).update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        found.set(name, { shape: source.info(name).shape, data });
      }
    } catch (err) {
      for (const t of paramTensors(params)) t.dispose();
      throw err;
    }
  } finally {
    await source.close();
  }
  // XNNPACK's packed copies live on the wasm heap for as long as the weights do; later plans must see them.
  if (backend.name === 'wasm') holdHeapBytes(params.embed, modelMemory(config, 'wasm', !seqCls).packed);
  const lm = new CausalLM(config, tokenizer, generation, new Transformer(config, params), backend, dir, hash.digest('hex'), backboneHash.digest('hex'));
  return { lm, extra: found };
}
