/**
 * The pretraining corpus as documents, and its train/validation split.
 *
 * A corpus is a .txt file, a folder of .txt files (walked recursively, in sorted path order so the
 * result never depends on the file system), or texts given in memory. Every file or text is one
 * document, further cut at literal `<|endoftext|>` markers, so one file can hold many documents.
 * The split is by whole documents when there are enough of them (every k-th document, spread over
 * the corpus rather than its tail, which for a chronological corpus would be a distribution shift);
 * a corpus of very few documents gives the last part of each document instead, cut at whitespace.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { OptionError } from '../errors.js';
import { describeReadFailure, fsErrorCode, readInput } from '../io/read-input.js';

const inputError = (message: string): OptionError => new OptionError(message);

export const END_OF_TEXT = '<|endoftext|>';

export interface Document {
  /** File path relative to the corpus root (or `text[i]` for in-memory texts), `#n` for the n-th piece. */
  name: string;
  text: string;
}

export type ValidationSpec = { fraction?: number } | { files: string[] };

export interface CorpusSplit {
  train: Document[];
  validation: Document[];
  /** SHA-256 over both splits' texts: identifies the token streams before tokenization. */
  hash: string;
}

async function listTextFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readInput(dir, () => readdir(dir, { withFileTypes: true }), inputError);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile() && e.name.toLowerCase().endsWith('.txt')) out.push(full);
    }
  };
  await walk(root);
  return out;
}

/** Cuts a text at `<|endoftext|>` markers, dropping empty (whitespace-only) pieces. */
function piecesOf(name: string, text: string): Document[] {
  const parts = text.split(END_OF_TEXT).filter((p) => p.trim() !== '');
  if (parts.length <= 1) return parts.map((t) => ({ name, text: t }));
  return parts.map((t, i) => ({ name: `${name}#${i}`, text: t }));
}

async function readDocuments(files: string[], root: string): Promise<Document[]> {
  const docs: Document[] = [];
  for (const file of files) {
    const text = await readInput(file, () => readFile(file, 'utf8'), inputError);
    docs.push(...piecesOf(relative(root, file) || file, text));
  }
  return docs;
}

/** Reads a corpus: a .txt file, a folder of .txt files, or in-memory texts. Returns the documents and the file paths read. */
export async function readCorpus(corpus: string | readonly string[]): Promise<{ documents: Document[]; files: string[]; root: string }> {
  if (Array.isArray(corpus)) {
    corpus.forEach((t, i) => {
      if (typeof t !== 'string') throw new OptionError(`corpus[${i}] must be a string, got ${typeof t}`);
    });
    const documents = corpus.flatMap((t, i) => piecesOf(`text[${i}]`, t));
    if (documents.length === 0) throw new OptionError('corpus: the given texts are all empty');
    return { documents, files: [], root: '' };
  }
  if (typeof corpus !== 'string' || corpus === '') throw new OptionError('corpus must be a file or folder path, or an array of texts');
  const info = await stat(corpus).catch((err: unknown) => {
    if (fsErrorCode(err) === 'ENOENT') throw new OptionError(`corpus "${corpus}" does not exist; pass a .txt file or a folder of .txt files`);
    throw new OptionError(describeReadFailure(corpus, err));
  });
  const files = info.isDirectory() ? await listTextFiles(corpus) : [corpus];
  if (files.length === 0) throw new OptionError(`corpus folder "${corpus}" holds no .txt files`);
  const root = info.isDirectory() ? corpus : resolve(corpus, '..');
  const documents = await readDocuments(files, root);
  if (documents.length === 0) throw new OptionError(`corpus "${corpus}" holds only empty text`);
  return { documents, files: files.map((f) => resolve(f)), root };
}

/** Index of the first whitespace at or after `at` (or the text's end), so no word is cut in two. */
function cutAtWhitespace(text: string, at: number): number {
  const m = /\s/.exec(text.slice(at));
  return m ? at + m.index : text.length;
}

/** Holds out `fraction` of the documents (every k-th), or of each document's tail when there are few. */
export function splitByFraction(documents: readonly Document[], fraction: number): { train: Document[]; validation: Document[] } {
  if (!(fraction > 0 && fraction < 1)) throw new OptionError(`validation.fraction must be in (0, 1), got ${fraction}`);
  const held = Math.floor(documents.length * fraction);
  if (held >= 1 && documents.length - held >= 1) {
    const train: Document[] = [];
    const validation: Document[] = [];
    // Document i is held out when the running count floor((i+1)·f) steps up: evenly spread picks.
    documents.forEach((d, i) => (Math.floor((i + 1) * fraction) > Math.floor(i * fraction) ? validation : train).push(d));
    return { train, validation };
  }
  const train: Document[] = [];
  const validation: Document[] = [];
  for (const d of documents) {
    const cut = cutAtWhitespace(d.text, Math.floor(d.text.length * (1 - fraction)));
    const head = d.text.slice(0, cut);
    const tail = d.text.slice(cut);
    if (head.trim() !== '') train.push({ name: d.name, text: head });
    if (tail.trim() !== '') validation.push({ name: `${d.name}@validation`, text: tail });
  }
  return { train, validation };
}

function hashSplit(train: readonly Document[], validation: readonly Document[]): string {
  const h = createHash('sha256');
  for (const [label, docs] of [['train', train], ['validation', validation]] as const) {
    h.update(`${label}:${docs.length}\n`);
    for (const d of docs) {
      // Length-prefixed, so no two different document lists hash alike. Names are left out: they
      // do not change the tokens, and validation file names depend on the working directory.
      const bytes = Buffer.from(d.text, 'utf8');
      h.update(`${bytes.length}:`).update(bytes);
    }
  }
  return h.digest('hex');
}

/** Reads the corpus and applies the validation spec (default: 5 % of the documents). */
export async function loadCorpusSplit(corpus: string | readonly string[], spec: ValidationSpec = {}): Promise<CorpusSplit> {
  const { documents, files, root } = await readCorpus(corpus);
  let train: Document[];
  let validation: Document[];
  if ('files' in spec) {
    if (!Array.isArray(spec.files) || spec.files.length === 0) throw new OptionError('validation.files must be a non-empty list of .txt paths');
    spec.files.forEach((f, i) => {
      if (typeof f !== 'string' || f === '') throw new OptionError(`validation.files[${i}] must be a path, got ${JSON.stringify(f)}`);
    });
    const held = new Set(spec.files.map((f) => resolve(f)));
    // Validation files inside a corpus folder are taken out of the training documents.
    train = files.length > 0 ? await readDocuments(files.filter((f) => !held.has(f)), root) : documents;
    validation = await readDocuments([...held], resolve('.'));
    if (train.length === 0) throw new OptionError('validation.files covers the whole corpus; leave some documents for training');
  } else {
    ({ train, validation } = splitByFraction(documents, spec.fraction ?? 0.05));
  }
  if (validation.length === 0) throw new OptionError('the validation split is empty; give a larger validation.fraction or validation.files');
  return { train, validation, hash: hashSplit(train, validation) };
}
