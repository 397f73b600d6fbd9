/** Each example runs end to end at tiny sizes (the bundled model is exercised by the demo test). */
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareWithJudge, topicJudge } from '../../examples/custom-judge.js';
import { trainOnHh } from '../../examples/hh-rlhf.js';
import { quickstart } from '../../examples/quickstart.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let model = '';
beforeAll(async () => {
  model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 101, config: { max_position_embeddings: 512 } })).dir;
});

describe('examples', () => {
  it('quickstart trains a reward model and decodes two prompts', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'pargs-qs-')), 'pairs.jsonl');
    const rows = Array.from({ length: 20 }, (_, i) => ({ prompt: `Q${i}:`, chosen: ' good and kind', rejected: ' bad and rude' }));
    await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n'));
    const result = await quickstart(model, file, { epochs: 2, maxNewTokens: 6, quiet: true });
    expect(result.texts).toHaveLength(2);
    result.texts.forEach((t) => expect(typeof t).toBe('string'));
    expect(result.steps).toBeGreaterThan(0);
    expect(result.prefixAccuracy).toBeGreaterThanOrEqual(0);
  });

  it('hh-rlhf trains on an HH-format file and reports diagnostics', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pargs-hh-'));
    const file = join(dir, 'hh.jsonl');
    const rows = Array.from({ length: 20 }, (_, i) => ({
      chosen: `\n\nHuman: question ${i}?\n\nAssistant: a kind answer`,
      rejected: `\n\nHuman: question ${i}?\n\nAssistant: ${i === 4 ? '' : 'a rude one'}`,
    }));
    await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n'));
    const lines: string[] = [];
    const diagnostics = await trainOnHh(file, model, 20, (l) => lines.push(l));
    expect(lines[0]).toMatch(/kept 19 of 20 rows; dropped 1/);
    expect(diagnostics?.prefixAccuracyByDecile).toHaveLength(10);
  });

  it.skipIf(!existsSync(resolve('../shared/data/hh-rlhf/harmless-base-test.jsonl.gz')))('hh-rlhf reads the real HH file', async () => {
    const diagnostics = await trainOnHh(resolve('../shared/data/hh-rlhf/harmless-base-test.jsonl.gz'), model, 24, () => undefined);
    expect(diagnostics?.pairs).toBeGreaterThan(0);
  });

  it('custom-judge ranks samples with a user function', async () => {
    const result = await compareWithJudge(model, topicJudge(['a', 'e']), 6);
    expect(result.bestOf4).toBeGreaterThanOrEqual(result.plain);
    expect(result.winRate).toBeGreaterThanOrEqual(0);
  });
});
