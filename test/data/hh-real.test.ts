/**
 * The real HH-RLHF harmless-base test split (../shared next to the project; users do not have it, so
 * the test skips when it is absent). The expected counts were established by counting the file
 * independently: 2,312 rows, of which 4 have a chosen reply that is a lone space.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { formatDropReport } from '../../src/data/drop-report.js';
import { loadPreferences } from '../../src/data/load.js';

const HH_FILE = resolve(import.meta.dirname, '../../../shared/data/hh-rlhf/harmless-base-test.jsonl.gz');
const exists = existsSync(HH_FILE);
if (!exists) console.log(`skipping the real HH-RLHF test: ${HH_FILE} is not present`);

describe('HH-RLHF harmless-base test split', () => {
  it.skipIf(!exists)('parses with the expected counts and drop reasons', async () => {
    const set = await loadPreferences(HH_FILE);
    expect(set.format).toBe('hh');
    expect(set.report.total).toBe(2312);
    expect(set.report.kept).toBe(2308);
    expect(set.pairs).toHaveLength(2308);
    expect(set.report.dropped).toEqual(
      [87, 517, 926, 1104].map((line) => ({ line, index: line - 1, reason: 'empty-response', detail: 'the chosen response is whitespace only (" ")' })),
    );
    expect(formatDropReport(set.report)).toBe('kept 2,308 of 2,312 rows; dropped 4: 4 empty response');
  });

  it.skipIf(!exists)('prompt ⊕ response gives back each original dialogue; four rows use an earlier shared turn', async () => {
    const set = await loadPreferences(HH_FILE);
    const lines = gunzipSync(await readFile(HH_FILE)).toString('utf8').split('\n');
    const earlier: number[] = [];
    for (const pair of set.pairs) {
      const original = JSON.parse(lines[pair.source.line! - 1]) as { chosen: string; rejected: string };
      expect(pair.prompt + pair.chosen).toBe(original.chosen);
      expect(pair.prompt + pair.rejected).toBe(original.rejected);
      expect(pair.prompt.endsWith('\n\nAssistant:')).toBe(true);
      if (pair.prompt.length !== original.chosen.lastIndexOf('\n\nAssistant:') + '\n\nAssistant:'.length) earlier.push(pair.source.line!);
    }
    // In these rows the two dialogues diverge before chosen's last assistant turn.
    expect(earlier).toEqual([1255, 1689, 1953, 2037]);
  });
});
