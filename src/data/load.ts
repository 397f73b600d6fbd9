/**
 * loadPreferences: reads comparisons in any supported format into `{prompt, chosen, rejected}` text, with a
 * report naming every row that was dropped and why. Nothing is dropped silently, and a source that yields
 * no usable row is an error rather than an empty training set.
 */
import { DataError, OptionError } from '../errors.js';
import { anyOf, arrayOf, checkArgument, checkOptions, oneOf, plainObject, required, signal, string, type Schema } from '../options.js';
import { formatDropReport, makeDropReport, rowLabel } from './drop-report.js';
import { RowRejected, notAnObject } from './fields.js';
import { FORMAT_KEYS, FORMATS, parseRow, shapeOf } from './formats.js';
import { type RawRow, readRowsFromFile, rowsFromArray } from './read-rows.js';
import type { DroppedRow, PreferenceFormat, PreferencePair, PreferenceSet } from './types.js';

export interface LoadPreferencesOptions {
  /**
   * 'trl' `{prompt, chosen, rejected}` (strings, or simple TRL conversations), 'hh' HH-RLHF dialogues,
   * 'summarize' OpenAI summarize-from-feedback comparisons; 'auto' (default) detects it from the first
   * row whose keys announce a format, and `PreferenceSet.format` says which.
   */
  format?: 'auto' | PreferenceFormat;
  signal?: AbortSignal;
}

const position = (row: RawRow): { line?: number; index: number } => (row.line === undefined ? { index: row.index } : { line: row.line, index: row.index });

function chooseFormat(rows: RawRow[], requested: 'auto' | PreferenceFormat, where: string): { format: PreferenceFormat; origin: string } | undefined {
  if (requested !== 'auto') return { format: requested, origin: 'format given' };
  for (const row of rows) {
    const shape = 'value' in row ? shapeOf(row.value) : undefined;
    if (shape !== undefined) return { format: shape, origin: `detected from ${rowLabel(row)}` };
  }
  const firstObject = rows.find((r) => 'value' in r && r.value !== null && typeof r.value === 'object' && !Array.isArray(r.value));
  // With no object row at all every row is dropped anyway; the caller reports that instead.
  if (!firstObject || !('value' in firstObject)) return undefined;
  const keys = Object.keys(firstObject.value as object);
  const known = FORMATS.map((f) => `${f} ${FORMAT_KEYS[f]}`).join('; ');
  throw new DataError(
    `cannot tell the format of ${where}: no row has the keys of a known format (${rowLabel(firstObject)} has ${keys.length ? keys.join(', ') : 'no keys'}); pargs reads ${known}. Pass format explicitly to see what each row lacks.`,
  );
}

export const LOAD_PREFERENCES_SCHEMA: Schema = { format: oneOf('auto', ...FORMATS), signal: signal() };

/**
 * Reads `source` — a path to a .jsonl / .jsonl.gz / .json file, or an array of row objects — into
 * preference pairs. Throws DataError when the file is missing or empty or when no row is usable.
 */
export async function loadPreferences(source: string | readonly object[], options: LoadPreferencesOptions = {}): Promise<PreferenceSet> {
  checkArgument('loadPreferences', 'source', source, required(anyOf(string(), arrayOf(plainObject('a row object'), 'an array of row objects'))));
  checkOptions('loadPreferences', options, LOAD_PREFERENCES_SCHEMA);
  const requested = options.format ?? 'auto';
  if (requested !== 'auto' && !FORMATS.includes(requested)) {
    throw new OptionError(`loadPreferences: format must be "auto", ${FORMATS.map((f) => `"${f}"`).join(', ')}; got ${JSON.stringify(requested)}`);
  }
  let rows: RawRow[];
  let where: string;
  if (typeof source === 'string') {
    where = source;
    rows = await readRowsFromFile(source, options.signal);
  } else if (Array.isArray(source)) {
    where = 'the given rows';
    rows = rowsFromArray(source);
    if (rows.length === 0) throw new DataError('loadPreferences: the given array of rows is empty');
  } else {
    throw new OptionError(`loadPreferences: source must be a file path or an array of row objects, got ${source === null ? 'null' : typeof source}`);
  }

  const detected = chooseFormat(rows, requested, where);
  const pairs: PreferencePair[] = [];
  const dropped: DroppedRow[] = [];
  for (const row of rows) {
    const at = position(row);
    if ('jsonError' in row) {
      dropped.push({ ...at, reason: 'malformed-json', detail: row.jsonError });
      continue;
    }
    if (!detected) {
      dropped.push({ ...at, reason: 'not-an-object', detail: notAnObject(row.value) });
      continue;
    }
    try {
      pairs.push({ ...parseRow(row.value, detected.format, detected.origin), source: at });
    } catch (err) {
      if (!(err instanceof RowRejected)) throw err;
      dropped.push({ ...at, reason: err.reason, detail: err.detail });
    }
  }

  const report = makeDropReport(rows.length, dropped);
  if (pairs.length === 0 || !detected) {
    const as = detected ? ` (read as ${detected.format}, ${detected.origin})` : '';
    throw new DataError(
      `no usable preference pairs in ${where}${as}: ${formatDropReport(report, { examples: 3 })}\nFix the rows above, or pass the right format (${FORMATS.join(', ')}).`,
    );
  }
  return { pairs, report, format: detected.format };
}
