/**
 * Ctrl-C in the CLI, sent as a real SIGINT to a `pargs` child process: the first one stops the command
 * within a step and it exits with code 130; `sample` has printed the prompts it finished, `train`
 * leaves a checkpoint that `--resume` continues.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { RewardHead } from '../../src/reward/head.js';
import { loadRewardModel, PartialRewardModel } from '../../src/reward/reward-model.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let model = '';
let work = '';
beforeAll(async () => {
  model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 74, config: { max_position_embeddings: 512 } })).dir;
  work = await mkdtemp(join(tmpdir(), 'pargs-sigint-'));
  const lm = await loadCausalLM(model);
  const rm = new PartialRewardModel(lm, RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(1, 'head-init')), 'partial');
  await rm.save(join(work, 'rm'));
  rm.dispose();
  lm.dispose();
});

/** Sends SIGINT and returns how the child ended and how long it took after the signal. */
async function interrupt(run: ReturnType<typeof spawnCli>): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const sent = performance.now();
  run.child.kill('SIGINT');
  const { code, stdout, stderr } = await run.done;
  return { code, stdout, stderr, ms: performance.now() - sent };
}

/** Preference rows whose chosen response is kind and the rejected one rude, `words` words long. */
async function writePairs(file: string, n: number, words: number): Promise<void> {
  const rng = createRng(9, 'sigint-data');
  const pick = (list: string[]) => Array.from({ length: words }, () => list[Math.floor(rng() * list.length)]).join(' ');
  const rows = Array.from({ length: n }, (_, i) => ({ prompt: `Q${i}: how are you?`, chosen: ` ${pick(['good', 'fine', 'great', 'thanks'])}`, rejected: ` ${pick(['bad', 'awful', 'no', 'ugh'])}` }));
  await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n'));
}

describe('SIGINT to pargs', () => {
  it('sample: prints the prompts it finished, says how far it got, exits 130', async () => {
    const prompts = join(work, 'prompts.txt');
    await writeFile(prompts, Array.from({ length: 40 }, (_, i) => `prompt number ${i}`).join('\n'));
    const run = spawnCli(['sample', '--model', model, '--rm', join(work, 'rm'), '--prompts', prompts, '--max-new-tokens', '60', '--json']);
    await run.waitFor(/"prompt":"prompt number 0"/); // the first prompt's result line
    const { code, stdout, stderr, ms } = await interrupt(run);
    expect(code).toBe(130);
    expect(ms).toBeLessThan(5000);
    const results = stdout.split('\n').filter((l) => l.includes('"prompt":')).map((l) => JSON.parse(l) as { prompt: string; generatedIds: number[] });
    expect(results.length).toBeGreaterThan(0);
    expect(results.length).toBeLessThan(40);
    expect(results.map((r) => r.prompt)).toEqual(results.map((_, i) => `prompt number ${i}`));
    for (const r of results) expect(r.generatedIds.length).toBeGreaterThan(0);
    expect(stderr).toContain(`stopped after ${results.length} of 40 prompts`);
    expect(stderr).toMatch(/pargs sample: stopped \(.*aborted\)/);
    expect(stderr).not.toMatch(/at .*\.ts:\d+/); // one line, no stack trace
  }, 60_000);

  it('train during the optimizer steps: writes its checkpoint, exits 130, and --resume continues it', async () => {
    const data = join(work, 'steps.jsonl');
    await writePairs(data, 60, 6);
    const out = join(work, 'rm-steps');
    const args = ['train', '--model', model, '--data', data, '--out', out, '--epochs', '4', '--batch-size', '4', '--eval-fraction', '0'];
    const run = spawnCli(args);
    await run.waitFor(/training +[1-9]\d% \d+\/\d+/); // the progress line of the first tenth (≥ 10 steps here)
    const { code, stderr, ms } = await interrupt(run);
    expect(code).toBe(130);
    expect(ms).toBeLessThan(5000);
    const stoppedAt = Number(/aborted after step (\d+)/.exec(stderr)?.[1]);
    expect(stoppedAt).toBeGreaterThanOrEqual(10);
    const resumed = await spawnCli([...args, '--resume']).done;
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain(`at step ${stoppedAt}`);
    expect(resumed.stdout).toMatch(/saved partial reward model/);
  }, 120_000);

  it('train during the feature pass: exits 130 leaving a step-0 checkpoint', async () => {
    const data = join(work, 'features.jsonl');
    await writePairs(data, 1000, 40);
    const out = join(work, 'rm-features');
    const run = spawnCli(['train', '--model', model, '--data', data, '--out', out, '--eval-fraction', '0']);
    await run.waitFor(/features \(train\) +\d+% \d+\/\d+/);
    const { code, stderr, ms } = await interrupt(run);
    expect(code).toBe(130);
    expect(ms).toBeLessThan(5000);
    expect(stderr).toMatch(/aborted during the feature pass; a step-0 checkpoint was written/);
    const lm = await loadCausalLM(model);
    try {
      (await loadRewardModel(join(out, 'checkpoints', 'step-00000000'), lm)).dispose();
    } finally {
      lm.dispose();
    }
  }, 120_000);

  it('generate: stops streaming and exits 130', async () => {
    const run = spawnCli(['generate', '--model', model, '--prompt', 'the theme', '--max-new-tokens', '5000', '--ignore-eos', '--temperature', '1']);
    await run.waitFor(/\S/); // the first streamed token on stdout
    const { code, stderr, ms } = await interrupt(run);
    expect(code).toBe(130);
    expect(ms).toBeLessThan(5000);
    expect(stderr).toMatch(/pargs generate: stopped \(generate was aborted\)/);
  }, 60_000);

  it('pretrain: writes its checkpoint and exits 130', async () => {
    const corpus = join(work, 'corpus.txt');
    await writeFile(corpus, 'The cat sat on the mat. The dog sat on the log. '.repeat(200));
    const out = join(work, 'lm');
    const run = spawnCli(['pretrain', '--corpus', corpus, '--out', out, '--layers', '1', '--dim', '16', '--heads', '2', '--context', '16', '--vocab-size', '300', '--steps', '100000', '--batch-size', '2', '--progress-every', '1', '--eval-every', '100000', '--checkpoint-every', '100000', '--validation-fraction', '0.5']);
    await run.waitFor(/training +0% 3\/100000 /); // --progress-every 1: a line per step on a pipe
    const { code, stderr, ms } = await interrupt(run);
    expect(code).toBe(130);
    expect(ms).toBeLessThan(5000);
    expect(stderr).toMatch(/pargs pretrain: stopped \(pretraining was aborted after step \d+; the checkpoint in .* resumes it/);
  }, 60_000);
});
