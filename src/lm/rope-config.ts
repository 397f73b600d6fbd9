/**
 * The rotary-embedding part of config.json: `rope_theta` and `rope_scaling` / `rope_parameters`
 * (default, linear, llama3, dynamic NTK, yarn) → a validated `RopeScaling`. Rope types pargs does not
 * implement fail with a `ConfigError`, since they would silently change every position's rotation.
 */
import { ConfigError } from '../errors.js';

type Raw = Record<string, unknown>;

export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  /** Dynamic NTK: the base grows with the sequence length once it exceeds `maxPositions`. */
  | { type: 'dynamic'; factor: number }
  | {
    type: 'yarn'; factor: number; originalMaxPositions: number; betaFast: number; betaSlow: number;
    /** HF `truncate` (default true): floor/ceil the correction range. */
    truncate: boolean;
    attentionFactor?: number; mscale?: number; mscaleAllDim?: number;
  };

/** Optional numeric yarn keys: absent or null means "not given" (HF's `.get(key)`). */
function optionalNumber(params: Raw, key: string, field: string): number | undefined {
  const v = params[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`config.json "${field}.${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function parseYarn(params: Raw, field: string, num: (key: string, fallback?: number) => number, maxPositions: number): RopeScaling {
  const truncate = params.truncate ?? true;
  if (typeof truncate !== 'boolean') throw new ConfigError(`config.json "${field}.truncate" must be true or false, got ${JSON.stringify(truncate)}`);
  // HF reads beta_fast/beta_slow with `or`, so 0 and null also mean the defaults 32 and 1.
  const beta = (key: string, fallback: number): number => (params[key] ? num(key) : fallback);
  return {
    type: 'yarn',
    factor: num('factor'),
    originalMaxPositions: num('original_max_position_embeddings', maxPositions),
    betaFast: beta('beta_fast', 32),
    betaSlow: beta('beta_slow', 1),
    truncate,
    attentionFactor: optionalNumber(params, 'attention_factor', field),
    mscale: optionalNumber(params, 'mscale', field),
    mscaleAllDim: optionalNumber(params, 'mscale_all_dim', field),
  };
}

export function parseRopeScaling(raw: Raw, maxPositions: number): RopeScaling {
  const params = (raw.rope_parameters ?? raw.rope_scaling) as Raw | null | undefined;
  const field = raw.rope_parameters !== undefined ? 'rope_parameters' : 'rope_scaling';
  if (params === null || params === undefined) return { type: 'default' };
  if (typeof params !== 'object') throw new ConfigError(`config.json "${field}" must be an object or null, got ${JSON.stringify(params)}`);
  const type = (params.rope_type ?? params.type ?? 'default') as string;
  const num = (key: string, fallback?: number): number => {
    const v = params[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new ConfigError(`config.json "${field}.${key}" must be a positive number for rope type "${type}", got ${JSON.stringify(params[key])}`);
    }
    return v;
  };
  switch (type) {
    case 'default':
      return { type: 'default' };
    case 'linear':
      return { type: 'linear', factor: num('factor') };
    case 'llama3':
      return {
        type: 'llama3',
        factor: num('factor'),
        lowFreqFactor: num('low_freq_factor'),
        highFreqFactor: num('high_freq_factor'),
        originalMaxPositions: num('original_max_position_embeddings'),
      };
    case 'dynamic':
      return { type: 'dynamic', factor: num('factor') };
    case 'yarn':
      return parseYarn(params, field, num, maxPositions);
    default:
      throw new ConfigError(
        `config.json "${field}" rope type "${type}" is not implemented (supported: default, linear, llama3, dynamic, yarn); results would differ from transformers`,
      );
  }
}

export function ropeTheta(raw: Raw): number {
  const params = raw.rope_parameters as Raw | undefined;
  const theta = params?.rope_theta ?? raw.rope_theta ?? 10000;
  if (typeof theta !== 'number' || !(theta > 0)) throw new ConfigError(`config.json "rope_theta" must be a positive number, got ${JSON.stringify(theta)}`);
  return theta;
}
