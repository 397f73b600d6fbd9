/** The --workers flag of pargs features / train: validated, and passed through. */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { loadFeatureShards } from '../../src/reward/feature-shards.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

async function run(argv: string[]): Promise<{ code: number; err: string[] }> {
  const err: string[] = [];
  return { code: await main(argv, { out: () => {}, err: (l) => err.push(l) }), err };
}

describe('--workers', () => {
  it('pargs features --workers 2 writes the same features as --workers 1; 0 is refused', async () => {
    const model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 74, config: { max_position_embeddings: 512 } })).dir;
    const work = await mkdtemp(join(tmpdir(), 'pargs-cli-workers-'));
    const data = join(work, 'pairs.jsonl');
    // Long enough for two batches of 4096 padded tokens, so --workers 2 really starts workers.
    const prompt = (i: number) => `Question ${i}: ${'tell me more about the weather today '.repeat(6)}?`;
    await writeFile(data, Array.from({ length: 12 }, (_, i) => JSON.stringify({ prompt: prompt(i), chosen: ' yes, of course', rejected: ' no' })).join('\n'));
    for (const n of ['1', '2']) expect((await run(['features', '--model', model, '--data', data, '--out', join(work, `w${n}`), '--workers', n])).code).toBe(0);
    const { stats } = JSON.parse(await readFile(join(work, 'w2', 'features.json'), 'utf8'));
    expect(stats.paddedTokens).toBeGreaterThan(4096); // at least two batches
    const [one, two] = [await loadFeatureShards([join(work, 'w1')]), await loadFeatureShards([join(work, 'w2')])];
    for (const p of one.pairIndices) expect(two.store.get(p, 0)).toEqual(one.store.get(p, 0));
    [one, two].forEach((f) => f.store.dispose());
    const bad = await run(['features', '--model', model, '--data', data, '--out', join(work, 'bad'), '--workers', '0']);
    expect(bad.code).toBe(2);
    expect(bad.err.join('\n')).toMatch(/--workers must be at least 1/);
  });
});
