/**
 * Turns a preference source into raw rows: a JSONL file (optionally gzipped; streamed line by line so a
 * large file is never held as one string), a JSON array file, or an in-memory array. Each row keeps its
 * position; a line that is not JSON becomes a row carrying the parse error, so it is reported, not lost.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { PassThrough, pipeline } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { AbortError, DataError, throwIfAborted } from '../errors.js';
import { describeReadFailure } from '../io/read-input.js';

export type RawRow = { line?: number; index: number } & ({ value: unknown } | { jsonError: string });

const SUPPORTED = 'pargs reads .jsonl, .jsonl.gz, .json or .json.gz preference files';

type FileKind = { layout: 'jsonl' | 'json'; gzip: boolean };

function fileKind(path: string): FileKind {
  const lower = path.toLowerCase();
  const gzip = lower.endsWith('.gz');
  const base = gzip ? lower.slice(0, -3) : lower;
  if (base.endsWith('.jsonl')) return { layout: 'jsonl', gzip };
  if (base.endsWith('.json')) return { layout: 'json', gzip };
  throw new DataError(`${path}: unknown file type; ${SUPPORTED} (one JSON object per line, or one JSON array)`);
}

async function checkFile(path: string): Promise<void> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new DataError(`${path} is not a file; pass the path of a preference file (${SUPPORTED})`);
  } catch (err) {
    if (err instanceof DataError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError(`preference file not found: ${path}; check the path (${SUPPORTED})`);
    throw new DataError(describeReadFailure(path, err));
  }
}

function parseLine(text: string, position: { line?: number; index: number }): RawRow {
  try {
    return { ...position, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ...position, jsonError: `not valid JSON: ${(err as Error).message}` };
  }
}

async function readJsonl(path: string, gzip: boolean, signal: AbortSignal | undefined): Promise<RawRow[]> {
  const file = createReadStream(path);
  const decoded = gzip ? createGunzip() : new PassThrough();
  // pipeline forwards a read or gunzip error to `decoded`, and readline's iterator rethrows it.
  pipeline(file, decoded, () => {});
  const lines = createInterface({ input: decoded, crlfDelay: Infinity });
  const rows: RawRow[] = [];
  let line = 0;
  try {
    for await (const raw of lines) {
      line++;
      if (line % 1000 === 0) throwIfAborted(signal, `reading ${path}`);
      // A UTF-8 byte-order mark is not part of the first row's JSON.
      const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      // Blank lines (a trailing newline, spacing) are not rows.
      if (text.trim() === '') continue;
      rows.push(parseLine(text, { line, index: rows.length }));
    }
  } catch (err) {
    if (err instanceof AbortError) throw err;
    const hint = gzip ? ' (is it really gzip-compressed and complete?)' : '';
    throw new DataError(`cannot read ${path}${hint}: ${(err as Error).message}`);
  } finally {
    lines.close();
    file.destroy();
  }
  throwIfAborted(signal, `reading ${path}`);
  return rows;
}

async function readJsonArray(path: string, gzip: boolean): Promise<RawRow[]> {
  let text: string;
  try {
    const bytes = await readFile(path);
    text = (gzip ? gunzipSync(bytes) : bytes).toString('utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    throw new DataError(describeReadFailure(path, err));
  }
  if (text.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DataError(`${path} is not valid JSON (${(err as Error).message}); a .json file must hold one array of rows — for one object per line, name it .jsonl`);
  }
  if (!Array.isArray(value)) throw new DataError(`${path} holds a JSON ${value === null ? 'null' : typeof value}, not an array of rows; write the rows as a JSON array or as .jsonl`);
  return value.map((v: unknown, index) => ({ index, value: v }));
}

/** The rows of `path`; throws DataError when it is missing, unreadable or holds no rows. */
export async function readRowsFromFile(path: string, signal?: AbortSignal): Promise<RawRow[]> {
  throwIfAborted(signal, `reading ${path}`);
  const kind = fileKind(path);
  await checkFile(path);
  const rows = kind.layout === 'jsonl' ? await readJsonl(path, kind.gzip, signal) : await readJsonArray(path, kind.gzip);
  if (rows.length === 0) throw new DataError(`${path} is empty: it holds no preference rows; ${SUPPORTED}`);
  return rows;
}

export function rowsFromArray(values: readonly unknown[]): RawRow[] {
  return values.map((value, index) => ({ index, value }));
}
