/**
 * Option validation shared by every public function: each function declares a schema (key → expected
 * type) and calls `checkOptions` first, so an unknown key (a typo such as `temperture`) or a value of the
 * wrong type is an `OptionError` naming the function, the key, the value received and what is expected,
 * instead of being dropped silently or surfacing later as an untyped `TypeError`.
 *
 * Schemas check types and simple ranges only; each function keeps its own semantic checks (one of
 * prompts/promptIds, topK ≤ vocabulary, …). `undefined` counts as "not given", as for defaults.
 */
import { DisposedError, OptionError } from './errors.js';

/** A failed check: where (a dotted path such as `mode.temperature`) and what was expected there. */
interface Problem {
  path: string;
  expected: string;
  value: unknown;
  /** For an unknown key: the keys valid at that level. */
  validKeys?: string[];
  /** The value is an object of the right class that was disposed. */
  disposed?: boolean;
}

export interface Spec {
  /** What a value must be, for messages: "a positive integer". */
  readonly expected: string;
  readonly required: boolean;
  /** The first problem with `value` (never undefined) at `path`, or null when it fits. */
  check(value: unknown, path: string): Problem | null;
  /** Values of a wrong type, each with the path its error must name (used by the tests). */
  wrong(path: string): WrongValue[];
}

export interface WrongValue {
  value: unknown;
  path: string;
}

export type Schema = Readonly<Record<string, Spec>>;

/** A spec from a test; `wrongValues` are values it refuses (for the tests). */
export function custom(expected: string, test: (value: unknown) => boolean, wrongValues: unknown[]): Spec {
  return {
    expected,
    required: false,
    check: (value, path) => (test(value) ? null : { path, expected, value }),
    wrong: (path) => wrongValues.map((value) => ({ value, path })),
  };
}

/** The same spec, but the key must be given. */
export function required(s: Spec): Spec {
  return { ...s, required: true };
}

export interface NumberRule {
  integer?: boolean;
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Default true: NaN and ±Infinity are refused. */
  finite?: boolean;
}

function describeNumber(r: NumberRule): string {
  const kind = r.integer ? 'an integer' : r.finite === false ? 'a number' : 'a finite number';
  const bounds = [r.min !== undefined ? `≥ ${r.min}` : '', r.above !== undefined ? `> ${r.above}` : '', r.max !== undefined ? `≤ ${r.max}` : ''].filter(Boolean);
  return bounds.length ? `${kind} ${bounds.join(' and ')}` : kind;
}

export function number(rule: NumberRule = {}): Spec {
  const test = (v: unknown): boolean => {
    if (typeof v !== 'number' || Number.isNaN(v)) return false;
    if (rule.finite !== false && !Number.isFinite(v)) return false;
    if (rule.integer && !Number.isInteger(v)) return false;
    if (rule.min !== undefined && v < rule.min) return false;
    if (rule.above !== undefined && !(v > rule.above)) return false;
    return rule.max === undefined || v <= rule.max;
  };
  return custom(describeNumber(rule), test, ['1', true, null, [1]]);
}

export function integer(rule: Omit<NumberRule, 'integer'> = {}): Spec {
  return number({ ...rule, integer: true });
}

export function string(): Spec {
  return custom('a string', (v) => typeof v === 'string', [1, true, null, ['a']]);
}
export function boolean(): Spec {
  return custom('true or false', (v) => typeof v === 'boolean', ['yes', 1, null]);
}
export function func(): Spec {
  return custom('a function', (v) => typeof v === 'function', ['f', 1, {}]);
}
export function signal(): Spec {
  return custom('an AbortSignal', (v) => v instanceof AbortSignal, [true, {}, 'abort']);
}
export function plainObject(what = 'an object'): Spec {
  return custom(what, isPlainObject, ['x', 1, null, []]);
}

export function strings(): Spec {
  return custom('an array of strings', (v) => Array.isArray(v) && v.every((s) => typeof s === 'string'), ['text', [1], null]);
}

const isIdList = (v: unknown): boolean => Array.isArray(v) && v.every((x) => Number.isInteger(x) && (x as number) >= 0);
export function tokenIds(): Spec {
  return custom('an array of non-negative integer token ids', isIdList, ['1', [1.5], [-1], null]);
}
export function idRows(): Spec {
  return custom('an array of token-id arrays (non-negative integers)', (v) => Array.isArray(v) && v.every(isIdList), [[1, 2], '1', [['a']], null]);
}

/** An array or typed array of numbers (elements unchecked: this guards hot paths at O(1)). */
export function numbers(): Spec {
  return custom('an array or typed array of numbers', (v) => Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView)), ['1,2', 1, null, {}]);
}

/** One of the given literal values. */
export function oneOf(...values: readonly (string | number | boolean)[]): Spec {
  return custom(`one of ${values.map((v) => JSON.stringify(v)).join(', ')}`, (v) => values.includes(v as string), [...(values.includes('') ? [] : ['']), 1.5, null, {}]);
}

/**
 * An instance of a class, looked up lazily (the class module may import this one's callers). One that
 * reports `isDisposed` (models, heads, caches, tensors) is refused with a DisposedError naming it.
 */
export function instance(cls: () => { prototype: object }, expected: string): Spec {
  const base = custom(expected, (v) => v !== null && typeof v === 'object' && Object.prototype.isPrototypeOf.call(cls().prototype, v), [{}, 'model', 1]);
  return {
    ...base,
    check: (value, path) => base.check(value, path) ?? ((value as { isDisposed?: unknown }).isDisposed === true ? { path, expected, value, disposed: true } : null),
  };
}

/** A value passing any of the specs. */
export function anyOf(...specs: Spec[]): Spec {
  const expected = specs.map((s) => s.expected).join(' or ');
  return {
    expected,
    required: false,
    check: (value, path) => (specs.some((s) => s.check(value, path) === null) ? null : { path, expected, value }),
    wrong: (path) => [1.5, 'x', null].filter((v) => specs.every((s) => s.check(v, path) !== null)).map((value) => ({ value, path })),
  };
}

/** An array whose every element fits `element`; problems name the index (`pairs[3].chosenIds`). */
export function arrayOf(element: Spec, expected = `an array of ${element.expected}`): Spec {
  return {
    expected,
    required: false,
    check(value, path) {
      if (!Array.isArray(value)) return { path, expected, value };
      for (const [i, item] of value.entries()) {
        const problem = element.check(item, `${path}[${i}]`);
        if (problem) return problem;
      }
      return null;
    },
    wrong: (path) => [{ value: 'x', path }, { value: null, path }, ...element.wrong(`${path}[0]`).map((w) => ({ value: [w.value], path: w.path }))],
  };
}

/**
 * A nested options object with its own schema; its unknown keys are refused too, except for data
 * records (`extraKeys: true`, e.g. encoded pairs carrying their source row).
 */
export function object(schema: Schema, what = 'an object', extraKeys = false): Spec {
  const expected = `${what} with keys ${Object.keys(schema).join(', ') || '(none)'}`;
  return {
    expected,
    required: false,
    check(value, path) {
      if (extraKeys ? value === null || typeof value !== 'object' || Array.isArray(value) : !isPlainObject(value)) return { path, expected, value };
      return firstProblem(value as Record<string, unknown>, schema, `${path}.`, extraKeys);
    },
    wrong: (path) => [{ value: 'x', path }, { value: 7, path }, ...wrongNested(schema, path)],
  };
}

/** A tagged union such as `{ kind: 'sample', temperature? } | { kind: 'greedy' }`. */
export function tagged(tag: string, variants: Readonly<Record<string, Schema>>): Spec {
  const names = Object.keys(variants);
  const expected = `an object with ${tag} ${names.map((n) => JSON.stringify(n)).join(' or ')}`;
  return {
    expected,
    required: false,
    check(value, path) {
      if (!isPlainObject(value)) return { path, expected, value };
      const kind = value[tag];
      const variant = typeof kind === 'string' && Object.hasOwn(variants, kind) ? variants[kind] : undefined;
      if (!variant) return { path: `${path}.${tag}`, expected: `one of ${names.map((n) => JSON.stringify(n)).join(', ')}`, value: kind };
      return firstProblem(value, { [tag]: oneOf(kind as string), ...variant }, `${path}.`);
    },
    wrong: (path) => [
      { value: 'x', path },
      { value: { [tag]: 'no-such-kind' }, path: `${path}.${tag}` },
      ...names.flatMap((name) => wrongNested(variants[name], path, { [tag]: name })),
    ],
  };
}

function wrongNested(schema: Schema, path: string, base: Record<string, unknown> = {}): WrongValue[] {
  return Object.entries(schema).flatMap(([key, s]) => s.wrong(`${path}.${key}`).map((w) => ({ value: { ...base, [key]: w.value }, path: w.path })));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Markers in `Problem.value` for a key the schema does not know and a required key not given. */
const unknownKey = Symbol('unknown key');
const missing = Symbol('missing');

function firstProblem(value: Record<string, unknown>, schema: Schema, prefix: string, extraKeys = false): Problem | null {
  for (const key of extraKeys ? [] : Object.keys(value)) {
    if (!Object.hasOwn(schema, key)) return { path: `${prefix}${key}`, expected: '', value: unknownKey, validKeys: Object.keys(schema) };
  }
  for (const [key, s] of Object.entries(schema)) {
    const v = value[key];
    if (v === undefined) {
      if (s.required) return { path: `${prefix}${key}`, expected: s.expected, value: missing };
      continue;
    }
    const problem = s.check(v, `${prefix}${key}`);
    if (problem) return problem;
  }
  return null;
}


/** JSON of the value, cut to 60 characters, or a type name where JSON says nothing useful. */
export function showValue(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol' || typeof value === 'bigint') return String(value);
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && !isPlainObject(value)) {
    return `a ${(value as object).constructor?.name ?? 'object'}`;
  }
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Levenshtein distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The valid key closest to `key`, when it is close enough to be a likely typo. */
export function closestKey(key: string, valid: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of valid) {
    const d = distance(key, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** `a CausalLM from "models/x"`: the class of an object and, when it has one, the folder it came from. */
function describeObject(value: unknown): string {
  const source = (value as { source?: unknown }).source;
  return `${showValue(value)}${typeof source === 'string' && source !== '' ? ` from "${source}"` : ''}`;
}

/** The error for a problem: a DisposedError for a disposed object, else an OptionError. */
function problemError(fn: string, p: Problem, subject: string): OptionError {
  if (p.disposed) {
    return new DisposedError(`${fn}: ${subject} is ${describeObject(p.value)} that was disposed; create or load it again, and call dispose() only after its last use`);
  }
  return new OptionError(message(fn, p));
}
function message(fn: string, p: Problem): string {
  if (p.value === unknownKey) {
    const key = p.path.split('.').at(-1) ?? p.path;
    const valid = p.validKeys ?? [];
    const hint = closestKey(key, valid);
    return `${fn}: unknown option "${p.path}"${hint ? ` (did you mean ${hint}?)` : ''}; valid keys: ${valid.join(', ') || '(none)'}`;
  }
  if (p.value === missing) return `${fn}: option "${p.path}" is required: ${p.expected}`;
  return `${fn}: option "${p.path}" must be ${p.expected}, got ${showValue(p.value)}`;
}

/**
 * Checks `options` against `schema` and returns it typed; throws an `OptionError` naming `fn`, the key,
 * the value received and what was expected. `undefined` options count as `{}`.
 */
export function checkOptions<T>(fn: string, options: T, schema: Schema): T {
  const value: unknown = options === undefined ? {} : options;
  if (!isPlainObject(value)) throw new OptionError(`${fn}: options must be a plain object, got ${showValue(options)}`);
  const problem = firstProblem(value, schema, '');
  if (problem) throw problemError(fn, problem, `option "${problem.path}"`);
  return options;
}

/** Checks one positional argument, named `name` in the message. */
export function checkArgument<T>(fn: string, name: string, value: T, s: Spec): T {
  if (value === undefined) {
    if (s.required) throw new OptionError(`${fn}: ${name} is required: ${s.expected}`);
    return value;
  }
  const problem = s.check(value, name);
  if (problem?.disposed) throw problemError(fn, problem, problem.path);
  if (problem) {
    throw new OptionError(problem.value === unknownKey || problem.value === missing ? message(fn, problem) : `${fn}: ${problem.path} must be ${problem.expected}, got ${showValue(problem.value)}`);
  }
  return value;
}

/** `schema` without some keys (a function taking another's options minus a few). */
export function without(schema: Schema, ...keys: string[]): Schema {
  return Object.fromEntries(Object.entries(schema).filter(([key]) => !keys.includes(key)));
}

/** Every wrong-type case a schema implies, for table-driven tests of the public functions. */
export function wrongValues(schema: Schema): WrongValue[] {
  return Object.entries(schema).flatMap(([key, s]) => s.wrong(key));
}
