/**
 * Typed readers for config.json fields: a missing key takes the given class default, a wrong value is a
 * `ConfigError` naming the key and the value found (config files are untrusted input).
 */
import { ConfigError } from '../errors.js';

export type Raw = Record<string, unknown>;

export function intField(raw: Raw, key: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new ConfigError(`config.json field "${key}" must be a positive integer, got ${JSON.stringify(raw[key])}`);
  }
  return v;
}

export function numField(raw: Raw, key: string, fallback: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new ConfigError(`config.json field "${key}" must be a positive number, got ${JSON.stringify(raw[key])}`);
  }
  return v;
}

export function boolField(raw: Raw, key: string, fallback: boolean): boolean {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'boolean') throw new ConfigError(`config.json field "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

export function tokenIdField(raw: Raw, key: string, fallback: number | null): number | null {
  const v = raw[key] === undefined ? fallback : raw[key];
  if (v === null) return null;
  if (Array.isArray(v) && v.length > 0 && Number.isInteger(v[0])) return v[0] as number;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new ConfigError(`config.json field "${key}" must be a token id, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** `eos_token_id` may be an int or a list of ints (Llama-3 Instruct); generation stops at any of them. */
export function tokenIdList(value: unknown, where: string): number[] {
  if (value === null || value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  for (const id of list) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new ConfigError(`${where} must be a token id or a list of token ids, got ${JSON.stringify(value)}`);
    }
  }
  return list as number[];
}

export function intFieldAllowZero(raw: Raw, key: string): number {
  const v = raw[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new ConfigError(`config.json field "${key}" must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return v;
}
