/**
 * Field access for one preference row. A row that cannot be used is rejected by throwing `RowRejected`,
 * which loadPreferences always catches and turns into a `DroppedRow`: a format parser then reads as a
 * straight list of requirements instead of threading a result type through every field.
 */
import type { Conversation, DropReason } from './types.js';

export type Row = Record<string, unknown>;

/** The text of one comparison, before it is given a source position. */
export interface ParsedRow {
  prompt: string;
  chosen: string;
  rejected: string;
  conversation?: Conversation;
  margin?: number;
  scores?: { chosen?: number; rejected?: number };
}

/** Internal: never escapes src/data (loadPreferences records it as a dropped row). */
export class RowRejected extends Error {
  override name = 'RowRejected';
  constructor(
    readonly reason: DropReason,
    readonly detail: string,
  ) {
    super(detail);
  }
}

export function reject(reason: DropReason, detail: string): never {
  throw new RowRejected(reason, detail);
}

export function isPlainObject(value: unknown): value is Row {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** "string", "number", "null", "array", "object", ... for messages. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

export function notAnObject(value: unknown): string {
  return `each row must be a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`}`;
}

/** The value at `key`; absent, undefined and null all count as missing (JSON writers use null for "none"). */
export function requireField(row: Row, key: string, path: string = key): unknown {
  const value = row[key];
  if (value === undefined || value === null) reject('missing-field', `missing "${path}"${value === null ? ' (it is null)' : ''}`);
  return value;
}

export function requireString(row: Row, key: string, path: string = key): string {
  const value = requireField(row, key, path);
  if (typeof value !== 'string') reject('wrong-type', `"${path}" must be a string, got ${typeName(value)}`);
  return value;
}

/** An optional string: undefined when absent or null, a drop when present with another type. */
export function optionalString(row: Row, key: string, path: string = key): string | undefined {
  const value = row[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') reject('wrong-type', `"${path}" must be a string when present, got ${typeName(value)}`);
  return value;
}

/** An optional finite number: undefined when absent or null, a drop when present with another type. */
export function optionalNumber(row: Row, key: string): number | undefined {
  const value = row[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') reject('wrong-type', `"${key}" must be a number when present, got ${typeName(value)}`);
  if (!Number.isFinite(value)) reject('invalid-value', `"${key}" must be a finite number, got ${value}`);
  return value;
}

/** Checks every format shares: both responses carry text, and they differ (else there is no preference). */
export function checkResponses(row: ParsedRow): ParsedRow {
  for (const side of ['chosen', 'rejected'] as const) {
    if (row[side].trim() === '') {
      const shown = row[side] === '' ? 'empty' : `whitespace only (${JSON.stringify(row[side])})`;
      reject('empty-response', `the ${side} response is ${shown}`);
    }
  }
  if (row.chosen === row.rejected) reject('identical-responses', 'the chosen and rejected responses are the same text, so the row states no preference');
  return row;
}
