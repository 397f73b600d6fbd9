/**
 * loadCausalLM(dir): a local Hugging Face folder → a ready `CausalLM`.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BACKEND_NAMES, initBackend, type BackendName } from '../engine/backend.js';
import { checkArgument, checkOptions, oneOf, required, string, type Schema } from '../options.js';
import { firstNonFinite } from '../engine/finite.js';
import { ConfigError, SafetensorsError } from '../errors.js';
import { describeReadFailure, fsErrorCode } from '../io/read-input.js';
import { openSafetensorsDir } from '../io/weight-source.js';
import { CausalLM } from './causal-lm.js';
import { parseModelConfig } from './config.js';
import { readGenerationDefaults } from './generation-config.js';
import { loadTransformerParams, type WeightReader } from './hf-weights.js';
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
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new ConfigError(`model folder "${dir}" does not exist or is not a folder; pass a local Hugging Face model folder (config.json, model.safetensors, tokenizer.json)`);
  }
  const backend = await initBackend({ backend: options.backend });
  const configPath = join(dir, 'config.json');
  let configText: string;
  try {
    configText = await readFile(configPath, 'utf8');
  } catch (err) {
    throw new ConfigError(fsErrorCode(err) === 'ENOENT' ? `${configPath} not found: "${dir}" is not a Hugging Face model folder` : describeReadFailure(configPath, err));
  }
  let rawConfig: unknown;
  try {
    rawConfig = JSON.parse(configText);
  } catch (err) {
    throw new ConfigError(`${configPath} is not valid JSON: ${(err as Error).message}`);
  }
  const config = parseModelConfig(rawConfig, configPath);
  const tokenizer = await PargsTokenizer.fromDir(dir);
  const generation = await readGenerationDefaults(dir, config);

  const source = await openSafetensorsDir(dir);
  const hash = createHash('sha256').update(configText);
  // Hash every weight as it is read, so the fingerprint names exactly the numbers this model runs.
  const reader: WeightReader = {
    names: () => source.names(),
    info: (name) => source.info(name),
    readF32: async (name) => {
      const data = await source.readF32(name);
      refuseNonFinite(dir, name, data);
      hash.update(name).update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      return data;
    },
  };
  let params;
  try {
    params = await loadTransformerParams(config, reader, dir);
  } finally {
    await source.close();
  }
  return new CausalLM(config, tokenizer, generation, new Transformer(config, params), backend, dir, hash.digest('hex'));
}
