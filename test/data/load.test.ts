/** loadPreferences: each format, each file layout, auto-detection and the drop report. */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AbortError } from '../../src/errors.js';
import { formatDropReport } from '../../src/data/drop-report.js';
import { loadPreferences } from '../../src/data/load.js';
import { hhRow, jsonl, summarizeRow, trlRow, trlRow2, writeTemp } from './fixtures.js';

describe('loadPreferences formats', () => {
  it('reads TRL {prompt, chosen, rejected} strings as they are, with line and index', async () => {
    const path = await writeTemp('trl.jsonl', jsonl([trlRow, trlRow2]));
    const set = await loadPreferences(path);
    expect(set.format).toBe('trl');
    expect(set.pairs).toEqual([
      { ...trlRow, source: { line: 1, index: 0 } },
      { ...trlRow2, source: { line: 2, index: 1 } },
    ]);
    expect(set.report).toMatchObject({ total: 2, kept: 2, dropped: [] });
    expect(formatDropReport(set.report)).toBe('kept 2 of 2 rows; dropped none');
  });

  it('splits HH dialogues at the last shared "\\n\\nAssistant:" and keeps the responses byte for byte', async () => {
    const path = await writeTemp('hh.jsonl', jsonl([hhRow]));
    const set = await loadPreferences(path);
    expect(set.format).toBe('hh');
    expect(set.pairs[0]).toMatchObject({
      prompt: '\n\nHuman: hi\n\nAssistant: hello!\n\nHuman: how are you?\n\nAssistant:',
      chosen: ' Fine, thanks.',
      rejected: ' Go away.',
    });
  });

  it('falls back to the last shared assistant turn when one response has extra turns', async () => {
    const row = {
      chosen: '\n\nHuman: q\n\nAssistant: a1\n\nHuman: q2\n\nAssistant: a2',
      rejected: '\n\nHuman: q\n\nAssistant: b1',
    };
    const set = await loadPreferences([row], { format: 'hh' });
    expect(set.pairs[0]).toMatchObject({ prompt: '\n\nHuman: q\n\nAssistant:', chosen: ' a1\n\nHuman: q2\n\nAssistant: a2', rejected: ' b1' });
  });

  it('builds the TL;DR prompt for summarize comparisons and orders the summaries by choice', async () => {
    const path = await writeTemp('summ.jsonl', jsonl([summarizeRow, { ...summarizeRow, choice: 1 }]));
    const set = await loadPreferences(path);
    expect(set.format).toBe('summarize');
    const prompt = 'SUBREDDIT: r/cats\nTITLE: New cat hides\nPOST: I adopted a cat and it hides all day.\nTL;DR:';
    expect(set.pairs[0]).toMatchObject({ prompt, chosen: ' My new cat hides all day.', rejected: ' Cat.' });
    expect(set.pairs[1]).toMatchObject({ prompt, chosen: ' Cat.', rejected: ' My new cat hides all day.' });
  });

  it('leaves out absent title/subreddit lines', async () => {
    const row = { ...summarizeRow, info: { post: 'Short post.', title: null } };
    const set = await loadPreferences([row]);
    expect(set.pairs[0].prompt).toBe('POST: Short post.\nTL;DR:');
  });

  it('renders simple TRL conversations as an HH-style transcript', async () => {
    const explicit = {
      prompt: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi?' }],
      chosen: [{ role: 'assistant', content: 'Hello.' }],
      rejected: [{ role: 'assistant', content: 'What.' }],
    };
    const implicit = {
      chosen: [{ role: 'user', content: 'Hi?' }, { role: 'assistant', content: 'Hello.' }],
      rejected: [{ role: 'user', content: 'Hi?' }, { role: 'assistant', content: 'What.' }],
    };
    const set = await loadPreferences([explicit, implicit]);
    expect(set.format).toBe('trl');
    expect(set.pairs[0]).toMatchObject({ prompt: '\n\nSystem: Be brief.\n\nHuman: Hi?\n\nAssistant:', chosen: ' Hello.', rejected: ' What.' });
    expect(set.pairs[1]).toMatchObject({ prompt: '\n\nHuman: Hi?\n\nAssistant:', chosen: ' Hello.', rejected: ' What.' });
  });
});

describe('loadPreferences file layouts', () => {
  it('streams .jsonl.gz', async () => {
    const path = await writeTemp('hh.jsonl.gz', gzipSync(jsonl([hhRow, hhRow])));
    const set = await loadPreferences(path);
    expect(set.format).toBe('hh');
    expect(set.pairs).toHaveLength(2);
    expect(set.pairs[1].source).toEqual({ line: 2, index: 1 });
  });

  it('reads .json and .json.gz arrays (index, no line)', async () => {
    const text = JSON.stringify([trlRow, trlRow2]);
    for (const path of [await writeTemp('rows.json', text), await writeTemp('rows.json.gz', gzipSync(text))]) {
      const set = await loadPreferences(path);
      expect(set.pairs.map((p) => p.source)).toEqual([{ index: 0 }, { index: 1 }]);
    }
  });

  it('handles CRLF, a byte-order mark and blank lines; blank lines are not rows but count as lines', async () => {
    const text = '\uFEFF' + JSON.stringify(trlRow) + '\r\n\r\n' + JSON.stringify(trlRow2) + '\r\n';
    const set = await loadPreferences(await writeTemp('crlf.jsonl', text));
    expect(set.pairs.map((p) => p.source)).toEqual([{ line: 1, index: 0 }, { line: 3, index: 1 }]);
    expect(set.pairs[1].rejected).toBe(trlRow2.rejected);
    expect(set.report.total).toBe(2);
  });

  it('reads in-memory rows', async () => {
    const set = await loadPreferences([trlRow]);
    expect(set.pairs[0].source).toEqual({ index: 0 });
  });

  it('stops when the signal has fired', async () => {
    const path = await writeTemp('abort.jsonl', jsonl([trlRow]));
    const controller = new AbortController();
    controller.abort();
    await expect(loadPreferences(path, { signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
  });
});

describe('loadPreferences auto-detection', () => {
  it('detects from the first row whose keys announce a format, skipping malformed and undecided rows', async () => {
    // {chosen: 5, ...} announces no format ({chosen, rejected} strings would be TRL's implicit-prompt form).
    const path = await writeTemp('detect.jsonl', jsonl(['{oops', { chosen: 5, rejected: 'b' }, hhRow]));
    const set = await loadPreferences(path);
    expect(set.format).toBe('hh');
    expect(set.report.dropped.map((d) => [d.line, d.reason])).toEqual([
      [1, 'malformed-json'],
      [2, 'wrong-type'],
    ]);
  });

  it('drops rows of another format in a mixed file, naming both formats', async () => {
    const path = await writeTemp('mixed.jsonl', jsonl([trlRow, hhRow, summarizeRow, trlRow2]));
    const set = await loadPreferences(path);
    expect(set.format).toBe('trl');
    expect(set.pairs).toHaveLength(2);
    expect(set.report.counts['other-format']).toBe(2);
    expect(set.report.dropped[0].detail).toMatch(/looks like a hh row .* but the data is trl \(detected from line 1\)/);
    expect(set.report.dropped[1].detail).toMatch(/looks like a summarize row/);
  });

  it('an explicit format overrides detection', async () => {
    const set = await loadPreferences([hhRow, trlRow], { format: 'trl' });
    expect(set.format).toBe('trl');
    expect(set.pairs).toHaveLength(1);
    expect(set.report.dropped[0]).toMatchObject({ index: 0, reason: 'other-format' });
    expect(set.report.dropped[0].detail).toContain('format given');
  });
});

describe('formatDropReport', () => {
  it('summarises counts, most frequent first, with thousands separators and optional examples', async () => {
    const rows = [
      ...Array.from({ length: 2290 }, () => trlRow),
      ...Array.from({ length: 14 }, () => ({ ...trlRow, chosen: ' ' })),
      ...Array.from({ length: 8 }, () => ({ ...trlRow, rejected: trlRow.chosen })),
    ];
    const set = await loadPreferences(rows);
    expect(formatDropReport(set.report)).toBe('kept 2,290 of 2,312 rows; dropped 22: 14 empty response, 8 identical');
    const lines = formatDropReport(set.report, { examples: 1 }).split('\n');
    expect(lines[1]).toBe('  row 2290: empty response — the chosen response is whitespace only (" ")');
    expect(lines[2]).toBe('  … and 21 more');
  });
});
