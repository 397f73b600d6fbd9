/**
 * Byte-level helpers for the BPE trainer: the GPT-2 byte↔unicode alphabet, the GPT-2 pre-tokenizer
 * regex, splitting text around special tokens, and counting pre-tokenized words. These must match
 * what `@huggingface/tokenizers` does at encode time, otherwise learned merges would never fire.
 */
import { OptionError, throwIfAborted } from '../errors.js';

/** Regex matches between abort checks while counting, so aborting a huge text stays prompt. */
const ABORT_CHECK_EVERY = 4096;

/**
 * GPT-2's `bytes_to_unicode`: printable Latin-1 bytes map to themselves, every other byte to
 * U+0100 + n (in byte order). Visible characters keep the vocab/merges files readable and free of
 * spaces, which is what lets merges be stored as `"left right"` strings unambiguously.
 */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const printable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = new Array<string>(256);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = String.fromCharCode(printable(b) ? b : 256 + next++);
  }
  return table;
})();

/** Inverse of {@link BYTE_TO_UNICODE}: symbol character → byte value. */
export const UNICODE_TO_BYTE: ReadonlyMap<string, number> = new Map(
  BYTE_TO_UNICODE.map((ch, b) => [ch, b] as const),
);

/**
 * The GPT-2 pre-tokenizer pattern, identical to the one `@huggingface/tokenizers` hard-codes for
 * its ByteLevel pre-tokenizer with `use_regex: true`, so training words equal encode-time words.
 */
export const GPT2_PRETOKENIZE_SOURCE =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** A fresh global regex each call: a shared `g` regex carries `lastIndex` state between users. */
export function gpt2PretokenizeRegex(): RegExp {
  return new RegExp(GPT2_PRETOKENIZE_SOURCE, 'gu');
}

const utf8 = new TextEncoder();

/** Maps a string's UTF-8 bytes to byte-level symbol characters (what the vocab stores). */
export function toByteLevel(text: string): string {
  let out = '';
  for (const b of utf8.encode(text)) out += BYTE_TO_UNICODE[b];
  return out;
}

/**
 * Splits `text` around occurrences of `specials`, returning only the ordinary pieces. At each
 * position the longest matching special wins, mirroring the tokenizer's trie-based splitter, so
 * training never sees (or merges across) a special token the encoder would cut out.
 */
export function splitAroundSpecials(text: string, specials: readonly string[]): string[] {
  if (specials.length === 0) return [text];
  const byLength = [...specials].sort((a, b) => b.length - a.length);
  const pieces: string[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const hit = byLength.find((s) => text.startsWith(s, i));
    if (hit === undefined) {
      i = nextCandidate(text, byLength, i + 1);
      continue;
    }
    if (i > start) pieces.push(text.slice(start, i));
    i += hit.length;
    start = i;
  }
  if (start < text.length) pieces.push(text.slice(start));
  return pieces;
}

/** Earliest index ≥ `from` where any special could start; skips long special-free stretches fast. */
function nextCandidate(text: string, specials: readonly string[], from: number): number {
  let best = text.length;
  for (const s of specials) {
    const at = text.indexOf(s, from);
    if (at !== -1 && at < best) best = at;
  }
  return best;
}

/** Counts GPT-2 pre-tokens across all texts, never spanning a special token. */
export function countWords(texts: Iterable<string>, specials: string[], signal?: AbortSignal): Map<string, number> {
  const counts = new Map<string, number>();
  const re = gpt2PretokenizeRegex();
  let seen = 0;
  let index = 0;
  for (const text of texts) {
    if (typeof text !== 'string') {
      throw new OptionError(`texts[${index}] must be a string; got ${typeof text}`);
    }
    index++;
    for (const piece of splitAroundSpecials(text, specials)) {
      re.lastIndex = 0;
      for (let m = re.exec(piece); m !== null; m = re.exec(piece)) {
        const w = m[0];
        counts.set(w, (counts.get(w) ?? 0) + 1);
        if (++seen % ABORT_CHECK_EVERY === 0) throwIfAborted(signal, 'BPE training');
      }
    }
  }
  return counts;
}
