/**
 * Every way a row or a file can be unusable, and what pargs says about it: a bad row is dropped with its
 * reason and position next to a good row (so loading succeeds), a bad file is a DataError naming it.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors.js';
import { loadPreferences } from '../../src/data/load.js';
import type { DropReason } from '../../src/data/types.js';
import { hhRow, jsonl, summarizeRow, trlRow, writeTemp } from './fixtures.js';

interface BadRow {
  name: string;
  /** The bad line (raw text) or row (serialised). */
  bad: unknown;
  /** A good row of the intended format, written first so detection and loading succeed. */
  good: object;
  reason: DropReason;
  detail: RegExp;
}

const table: BadRow[] = [
  { name: 'malformed JSON', good: trlRow, bad: '{"prompt": "x", "chosen": ', reason: 'malformed-json', detail: /not valid JSON/ },
  { name: 'no prompt and nothing shared', good: trlRow, bad: { chosen: ' a', rejected: ' b' }, reason: 'no-shared-prompt', detail: /no "prompt".*share no leading words/ },
  { name: 'missing chosen', good: trlRow, bad: { prompt: 'p', rejected: ' b' }, reason: 'missing-field', detail: /missing "chosen"/ },
  { name: 'null chosen', good: trlRow, bad: { prompt: 'p', chosen: null, rejected: ' b' }, reason: 'missing-field', detail: /"chosen" \(it is null\)/ },
  { name: 'non-string rejected', good: trlRow, bad: { prompt: 'p', chosen: ' a', rejected: 5 }, reason: 'wrong-type', detail: /"rejected" must be a string, got number/ },
  { name: 'empty response', good: trlRow, bad: { prompt: 'p', chosen: '', rejected: ' b' }, reason: 'empty-response', detail: /chosen response is empty/ },
  { name: 'whitespace-only response', good: trlRow, bad: { prompt: 'p', chosen: ' a', rejected: ' \n\t' }, reason: 'empty-response', detail: /rejected response is whitespace only/ },
  { name: 'identical chosen/rejected', good: trlRow, bad: { prompt: 'p', chosen: ' same', rejected: ' same' }, reason: 'identical-responses', detail: /same text/ },
  { name: 'an array row', good: trlRow, bad: [trlRow], reason: 'not-an-object', detail: /got an array/ },
  { name: 'a number row', good: trlRow, bad: 42, reason: 'not-an-object', detail: /got a number/ },
  { name: 'HH row in a TRL file', good: trlRow, bad: hhRow, reason: 'other-format', detail: /looks like a hh row/ },
  {
    name: 'conversation not ending with the assistant',
    good: trlRow,
    bad: { prompt: [{ role: 'user', content: 'hi' }], chosen: [{ role: 'user', content: 'a' }], rejected: [{ role: 'assistant', content: 'b' }] },
    reason: 'unsupported-conversation',
    detail: /last message of "chosen"/,
  },
  { name: 'HH without "Assistant:"', good: hhRow, bad: { chosen: '\n\nHuman: hi there', rejected: '\n\nHuman: bye' }, reason: 'no-assistant-turn', detail: /"chosen" has no/ },
  {
    name: 'HH with no shared prefix',
    good: hhRow,
    bad: { chosen: '\n\nHuman: a\n\nAssistant: x', rejected: '\n\nHuman: b\n\nAssistant: y' },
    reason: 'no-shared-prompt',
    detail: /first 9 characters/,
  },
  { name: 'HH ending at the marker', good: hhRow, bad: { chosen: '\n\nHuman: a\n\nAssistant:', rejected: '\n\nHuman: a\n\nAssistant: y' }, reason: 'empty-response', detail: /chosen response is empty/ },
  { name: 'summarize with choice 2', good: summarizeRow, bad: { ...summarizeRow, choice: 2 }, reason: 'invalid-value', detail: /"choice" must be 0 or 1.*got 2/ },
  { name: 'summaries of length 1', good: summarizeRow, bad: { ...summarizeRow, summaries: [{ text: 'x' }] }, reason: 'invalid-value', detail: /exactly 2 summaries, got 1/ },
  { name: 'summarize without info.post', good: summarizeRow, bad: { ...summarizeRow, info: { title: 't' } }, reason: 'missing-field', detail: /missing "info.post"/ },
  { name: 'summary without text', good: summarizeRow, bad: { ...summarizeRow, summaries: [{ text: 'x' }, {}] }, reason: 'missing-field', detail: /"summaries\[1\].text"/ },
];

describe('bad rows are dropped with their reason and line', () => {
  it.each(table)('$name → $reason', async ({ name, good, bad, reason, detail }) => {
    // A blank line before the bad row checks that line numbers are file lines, not row indices.
    const path = await writeTemp(`${name.replace(/\W+/g, '-')}.jsonl`, jsonl([good, '', bad]));
    const set = await loadPreferences(path);
    expect(set.pairs).toHaveLength(1);
    expect(set.report).toMatchObject({ total: 2, kept: 1 });
    expect(set.report.dropped).toHaveLength(1);
    expect(set.report.dropped[0]).toMatchObject({ line: 3, index: 1, reason });
    expect(set.report.dropped[0].detail).toMatch(detail);
    expect(set.report.counts[reason]).toBe(1);
  });
});

describe('bad sources are DataErrors that name the file', () => {
  const cases: Array<{ name: string; make: () => Promise<string>; message: RegExp }> = [
    { name: 'nonexistent file', make: async () => '/nonexistent/prefs.jsonl', message: /preference file not found: \/nonexistent\/prefs\.jsonl/ },
    { name: 'empty file', make: () => writeTemp('empty.jsonl', ''), message: /empty\.jsonl is empty/ },
    { name: 'only blank lines', make: () => writeTemp('blank.jsonl', '\n  \n\n'), message: /blank\.jsonl is empty/ },
    { name: 'empty JSON array', make: () => writeTemp('empty.json', '[]'), message: /empty\.json is empty/ },
    {
      name: 'all rows dropped',
      make: () => writeTemp('alldropped.jsonl', jsonl([{ ...trlRow, chosen: ' ' }, '{bad'])),
      message: /no usable preference pairs in .*alldropped\.jsonl \(read as trl, detected from line 1\): kept 0 of 2 rows; dropped 2: 1 malformed JSON, 1 empty response\n {2}line 1: empty response/,
    },
    { name: 'only non-object rows', make: () => writeTemp('arrays.jsonl', jsonl([[1], 'null'])), message: /no usable preference pairs .* 2 not an object/ },
    { name: 'unknown extension', make: () => writeTemp('prefs.txt', jsonl([trlRow])), message: /prefs\.txt: unknown file type/ },
    { name: '.json that is not an array', make: () => writeTemp('object.json', JSON.stringify(trlRow)), message: /object\.json holds a JSON object, not an array/ },
    { name: '.json that is not JSON', make: () => writeTemp('broken.json', '[{'), message: /broken\.json is not valid JSON/ },
    { name: 'corrupt gzip', make: () => writeTemp('corrupt.jsonl.gz', 'not gzip'), message: /cannot read .*corrupt\.jsonl\.gz \(is it really gzip-compressed/ },
    { name: 'truncated gzip', make: () => writeTemp('cut.jsonl.gz', gzipSync(jsonl([trlRow, trlRow])).subarray(0, 30)), message: /cannot read .*cut\.jsonl\.gz/ },
    { name: 'no recognisable format', make: () => writeTemp('unknown.jsonl', jsonl([{ a: 1, b: 2 }])), message: /cannot tell the format of .*unknown\.jsonl.*line 1 has a, b/ },
  ];
  it.each(cases)('$name', async ({ make, message }) => {
    const path = await make();
    const error = await loadPreferences(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as Error).message).toMatch(message);
  });
});
