/** `pargs train --lr 1e308` stops with a TrainingError (exit 2) and writes no reward model. */
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

describe('pargs train divergence', () => {
  it('--lr 1e308 → exit 2 with TrainingError naming the step; --out is not written', async () => {
    const model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 72 })).dir;
    const work = await mkdtemp(join(tmpdir(), 'pargs-diverge-cli-'));
    const rows = Array.from({ length: 16 }, (_, i) => ({ prompt: `Q${i}: how are you?`, chosen: ' good, thanks', rejected: ' bad.' }));
    await writeFile(join(work, 'pairs.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
    const err: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let code: number;
    try {
      code = await main(['train', '--model', model, '--data', join(work, 'pairs.jsonl'), '--out', join(work, 'rm'), '--lr', '1e308', '--epochs', '2'], { out: () => undefined, err: (l) => err.push(l) });
    } finally {
      write.mockRestore();
    }
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/TrainingError: trainPartialRM: training diverged at step 1\b/);
    // Nothing saved: no model and no checkpoint, only the claimed folder's marker of an unfinished run.
    expect(await readdir(join(work, 'rm'))).toEqual(['pargs-output.json']);
  });
});
