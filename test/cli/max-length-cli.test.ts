/** `--max-length` of pargs train: defaults to the model's context when that is under 512, refused above it. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let model = '';
let data = '';
beforeAll(async () => {
  model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 75, config: { max_position_embeddings: 32 } })).dir;
  const work = await mkdtemp(join(tmpdir(), 'pargs-maxlen-'));
  data = join(work, 'pairs.jsonl');
  // 10 short pairs and 2 whose responses run past the 32-token context.
  const rows = Array.from({ length: 12 }, (_, i) => ({ prompt: `Q${i}:`, chosen: i < 10 ? ' good' : ' good'.repeat(30), rejected: ' bad' }));
  await writeFile(data, rows.map((r) => JSON.stringify(r)).join('\n'));
});

async function run(argv: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    return { code: await main(argv, { out: () => undefined, err: (l) => err.push(l) }), err: err.join('\n') };
  } finally {
    write.mockRestore();
  }
}

describe('pargs train --max-length', () => {
  it('defaults to the context (32 here): the long pairs are dropped and counted, training runs', async () => {
    const { code, err } = await run(['train', '--model', model, '--data', data, '--out', join(await mkdtemp(join(tmpdir(), 'pargs-maxlen-out-')), 'rm'), '--eval-fraction', '0']);
    expect(err).toMatch(/kept 10 of 12 .*dropped 2/);
    expect(code).toBe(0);
  });

  it('above the context is refused with the context named', async () => {
    const { code, err } = await run(['train', '--model', model, '--data', data, '--out', join(await mkdtemp(join(tmpdir(), 'pargs-maxlen-out-')), 'rm'), '--max-length', '64']);
    expect(code).toBe(2);
    expect(err).toMatch(/--max-length 64 is longer than the model's context of 32 tokens/);
  });
});
