/** `pargs train --head vocab` (both objectives; checkpoints, --resume, --eval-every), then `pargs sample` with the vocabulary head. */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runMain } from '../helpers/run-main.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let model = '';
let work = '';
beforeAll(async () => {
  model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 72 })).dir;
  work = await mkdtemp(join(tmpdir(), 'pargs-vocab-cli-'));
  const rows = Array.from({ length: 20 }, (_, i) => ({ prompt: `Q${i}: how are you?`, chosen: ' good, thanks', rejected: ' bad.' }));
  await writeFile(join(work, 'pairs.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
  await writeFile(join(work, 'prompts.txt'), 'Hello there\n');
});

const run = runMain;

describe('pargs train --head vocab', () => {
  it.each(['bt-prefix', 'farma'])('--objective %s trains and saves a vocabulary head that pargs sample decodes with', async (objective) => {
    const out = join(work, `rm-${objective}`);
    const train = await run(['train', '--model', model, '--data', join(work, 'pairs.jsonl'), '--out', out, '--head', 'vocab', '--objective', objective, '--epochs', '2', '--batch-size', '16']);
    expect(train.code).toBe(0);
    if (objective === 'farma') expect(train.err.join('\n')).toMatch(/max-consistency/);
    const manifest = JSON.parse(await readFile(join(out, 'reward_model.json'), 'utf8'));
    expect(manifest.head.kind).toBe('vocab');
    expect(manifest.training.options.objective).toBe(objective);
    const sample = await run(['sample', '--model', model, '--rm', out, '--prompts', join(work, 'prompts.txt'), '--method', 'pargs', '--max-new-tokens', '4', '--json']);
    expect(sample.code).toBe(0);
    const results = sample.out.map((l) => JSON.parse(l)).filter((r) => r.prompt !== undefined);
    expect(results[0].generatedIds.length).toBeGreaterThan(0);
  });

  it('pargs sample --exact decodes over the whole vocabulary with a vocabulary head; --exact with --top-k or a linear head is refused', async () => {
    const out = join(work, 'rm-exact');
    expect((await run(['train', '--model', model, '--data', join(work, 'pairs.jsonl'), '--out', out, '--head', 'vocab', '--epochs', '1', '--batch-size', '16'])).code).toBe(0);
    const base = ['sample', '--model', model, '--rm', out, '--prompts', join(work, 'prompts.txt'), '--max-new-tokens', '4', '--json', '--seed', '3'];
    const exact = await run([...base, '--exact']);
    expect(exact.code).toBe(0);
    // The same draw as naming the whole vocabulary as top-k.
    const vocab = JSON.parse(await readFile(join(model, 'config.json'), 'utf8')).vocab_size;
    const full = await run([...base, '--top-k', String(vocab)]);
    const ids = (r: { out: string[] }) => r.out.map((l) => JSON.parse(l)).filter((r) => r.prompt !== undefined).map((r) => r.generatedIds);
    expect(ids(exact)).toEqual(ids(full));
    expect(ids(exact)[0].length).toBe(4);
    const both = await run([...base, '--exact', '--top-k', '5']);
    expect(both.code).not.toBe(0);
    expect(both.err.join('\n')).toMatch(/--exact keeps every token.*--top-k \(got 5\)/);
    const linear = join(work, 'rm-linear');
    expect((await run(['train', '--model', model, '--data', join(work, 'pairs.jsonl'), '--out', linear, '--epochs', '1', '--batch-size', '16'])).code).toBe(0);
    const refused = await run(['sample', '--model', model, '--rm', linear, '--prompts', join(work, 'prompts.txt'), '--max-new-tokens', '2', '--exact']);
    expect(refused.code).not.toBe(0);
    expect(refused.err.join('\n')).toMatch(/mode.exact .*vocabulary reward head/);
  });

  it('--checkpoint-every 1 writes checkpoints; --resume continues from the newest one to the same head; --eval-every evaluates', async () => {
    const out = join(work, 'rm-resume');
    const argv = ['train', '--model', model, '--data', join(work, 'pairs.jsonl'), '--out', out, '--head', 'vocab', '--objective', 'farma', '--epochs', '2', '--batch-size', '8', '--checkpoint-every', '1', '--keep-checkpoints', '3', '--eval-every', '2', '--seed', '4'];
    const first = await run(argv);
    expect(first.code).toBe(0);
    expect(first.err.join('\n')).toMatch(/eval at step 2:/);
    const kept = await readdir(join(out, 'checkpoints'));
    expect(kept).toHaveLength(3);
    const head = await readFile(join(out, 'head.safetensors'));
    // Drop the newest checkpoint: the run looks stopped one step before its end, and --resume redoes that step.
    await rm(join(out, 'checkpoints', kept[2]), { recursive: true });
    const last = Number(kept[2].replace('step-', ''));
    const resumed = await run([...argv, '--resume']);
    expect(resumed.code).toBe(0);
    expect(resumed.err.join('\n')).toMatch(new RegExp(`resumed from .*${kept[1]} at step ${last - 1}`));
    expect(await readdir(join(out, 'checkpoints'))).toContain(kept[2]);
    expect(await readFile(join(out, 'head.safetensors'))).toEqual(head);
  });

  it('refuses an unknown objective', async () => {
    const { code, err } = await run(['train', '--model', model, '--data', join(work, 'pairs.jsonl'), '--out', join(work, 'x'), '--objective', 'dpo']);
    expect(code).not.toBe(0);
    expect(err.join('\n')).toMatch(/--objective must be bt-prefix or farma, got "dpo"/);
  });
});
