/**
 * Which format a row looks like, auto-detection from the first recognisable row, and dispatch to the
 * format's parser. A row recognisably of another format than the file's is dropped as 'other-format'
 * rather than reported as missing fields, which would misdescribe it.
 */
import { ASSISTANT_MARKER, parseHhRow } from './format-hh.js';
import { parseSummarizeRow } from './format-summarize.js';
import { parseTrlRow } from './format-trl.js';
import { type ParsedRow, type Row, checkResponses, isPlainObject, notAnObject, reject } from './fields.js';
import type { PreferenceFormat } from './types.js';

export const FORMATS: readonly PreferenceFormat[] = ['trl', 'hh', 'summarize'];

export const FORMAT_KEYS: Record<PreferenceFormat, string> = {
  trl: '{prompt?, chosen, rejected} strings or message lists',
  hh: '{chosen, rejected} "\\n\\nHuman: … \\n\\nAssistant: …" dialogues',
  summarize: '{info: {post, title, subreddit}, summaries: [{text}, {text}], choice}',
};

/**
 * The format a value's keys announce, or undefined when they announce none. A TRL row carries `prompt`
 * or message lists; an HH row carries a dialogue without `prompt`; `{chosen, rejected}` strings without
 * HH markers are TRL's standard implicit-prompt form. A row with neither string nor list responses is
 * left undecided, so that it is reported against the file's own format (e.g. as missing "chosen").
 */
export function shapeOf(value: unknown): PreferenceFormat | undefined {
  if (!isPlainObject(value)) return undefined;
  if ('summaries' in value) return 'summarize';
  if ('prompt' in value || Array.isArray(value.chosen) || Array.isArray(value.rejected)) return 'trl';
  const dialogue = (v: unknown): boolean => typeof v === 'string' && (v.includes('\n\nHuman:') || v.includes(ASSISTANT_MARKER));
  if (dialogue(value.chosen) || dialogue(value.rejected)) return 'hh';
  if (typeof value.chosen === 'string' && typeof value.rejected === 'string') return 'trl';
  return undefined;
}

const PARSERS: Record<PreferenceFormat, (row: Row) => ParsedRow> = { trl: parseTrlRow, hh: parseHhRow, summarize: parseSummarizeRow };

/**
 * Reads one row as `format` and applies the checks all formats share. `formatOrigin` says where the
 * format came from ("detected from line 3", "given") for the 'other-format' message.
 */
export function parseRow(value: unknown, format: PreferenceFormat, formatOrigin: string): ParsedRow {
  if (!isPlainObject(value)) reject('not-an-object', notAnObject(value));
  const shape = shapeOf(value);
  if (shape !== undefined && shape !== format) {
    reject('other-format', `the row looks like a ${shape} row ${FORMAT_KEYS[shape]} (keys: ${Object.keys(value).join(', ')}), but the data is ${format} (${formatOrigin})`);
  }
  return checkResponses(PARSERS[format](value));
}
