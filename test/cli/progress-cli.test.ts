/**
 * The CLI's progress through progressReporter: a redrawn bar with rate and ETA on a (fake) terminal,
 * whole plain lines on a pipe or with --json — through main() and through a real child process.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let model = '';
let work = '';
let data = '';
beforeAll(async () => {
  model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 75 })).dir;
  work = await mkdtemp(join(tmpdir(), 'pargs-progress-cli-'));
  data = join(work, 'pairs.jsonl');
  const rows = Array.from({ length: 40 }, (_, i) => ({ prompt: `Q${i}: how are you?`, chosen: ' good, thanks', rejected: ' bad.' }));
  await writeFile(data, rows.map((r) => JSON.stringify(r)).join('\n'));
  await writeFile(join(work, 'text.txt'), 'The cat sat on the mat. '.repeat(60));
  await writeFile(join(work, 'gens.jsonl'), Array.from({ length: 30 }, (_, i) => JSON.stringify({ prompt: `p${i}`, response: i % 2 ? ' good' : ' bad', method: i < 15 ? 'plain' : 'pargs' })).join('\n'));
});

interface Run {
  code: number;
  out: string[];
  err: string[];
  /** What was drawn on the fake terminal, when one was given. */
  tty: string;
}

/** `sigintWhen`: Ctrl-C (a SIGINT to this process, which main() handles) once the terminal shows it. */
async function run(argv: string[], terminal: boolean, sigintWhen?: RegExp): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  let tty = '';
  const progress = terminal
    ? {
        isTTY: true,
        write: (t: string) => {
          tty += t;
          if (sigintWhen?.test(tty)) {
            sigintWhen = undefined;
            process.emit('SIGINT');
          }
        },
      }
    : undefined;
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    // On a terminal, stderr's lines and the bar share one screen, as they do for a user.
    const code = await main(argv, { out: (l) => out.push(l), err: (l) => (err.push(l), terminal && (tty += `${l}\n`)), progress });
    return { code, out, err, tty };
  } finally {
    write.mockRestore();
  }
}

const train = (out: string, ...more: string[]) => ['train', '--model', model, '--data', data, '--out', join(work, out), '--epochs', '2', '--batch-size', '8', ...more];

describe('CLI progress', () => {
  it('pargs train on a terminal: the feature pass and the steps as redrawn bars with rate and ETA', async () => {
    const r = await run(train('rm-tty'), true);
    expect(r.code).toBe(0);
    const redraws = r.tty.split('\r').slice(1);
    expect(redraws.length).toBeGreaterThan(10);
    // This small feature pass is one batch: its bar is drawn once, complete.
    expect(r.tty).toMatch(/\rfeatures \(train\) \[#{24}\] 100% (\d+)\/\1 {2}\S+ seq\/s {2}done in \S+\x1b\[K\n/);
    expect(r.tty).toMatch(/\rtraining \[[#-]{24}\] +\d+% \d+\/\d+ {2}\S+ step\/s {2}ETA \S+ {2}loss \d\.\d{4}/);
    expect(r.tty).toMatch(/\rtraining \[#{24}\] 100% (\d+)\/\1 .*done in \S+ .*\x1b\[K\n/);
    // The held-out diagnostics are printed between bars, on lines of their own.
    expect(r.tty).toMatch(/\neval at step \d+:\npairs \d+ {2}full-response accuracy/);
    // Nothing of the bar leaks into the line-based stderr.
    expect(r.err.join('\n')).not.toMatch(/\r|\[#|training +\d+%/);
  });

  it('a stop (Ctrl-C) mid-bar ends the bar line before the "stopped" message', async () => {
    const r = await run(train('rm-stop'), true, /\rtraining \[[#-]{24}\] +\d+% 3\//);
    expect(r.code).toBe(130);
    // The bar ends its line once; the "stopping" line and the stop's checkpoint follow on lines of their own.
    expect(r.tty).toMatch(/\rtraining \[[#-]{24}\] +\d+% 3\/\d+ .*\x1b\[K\npargs: stopping \(Ctrl-C again to force\)…\ncheckpoint at step 3 → \S+\npargs train: stopped/);
    expect(r.err.at(-1)).toMatch(/^pargs train: stopped/);
  });

  it('pargs train --json on a terminal, and on a pipe: whole plain lines, first, tenths and last', async () => {
    for (const [out, terminal, flags] of [['rm-json', true, ['--json']], ['rm-pipe', false, []]] as const) {
      const r = await run(train(out, ...flags), terminal);
      expect(r.code).toBe(0);
      expect(r.tty).not.toMatch(/\r|\x1b\[/); // with --json no bar is drawn, even on a terminal
      const log = r.err.join('\n');
      expect(log).not.toContain('\r');
      const steps = r.err.filter((l) => l.startsWith('training '));
      expect(steps[0]).toMatch(/^training +\d+% 1\/(\d+) /);
      expect(steps.at(-1)).toMatch(/^training 100% (\d+)\/\1 .* done in /);
      expect(steps.length).toBeLessThanOrEqual(11);
      expect(r.err.some((l) => /^features \(train\) 100% \d+\/\d+/.test(l))).toBe(true);
      expect(r.err.some((l) => /^features \(eval\) 100% \d+\/\d+/.test(l))).toBe(true);
    }
  });

  it('pargs eval-lm and pargs eval report their passes the same way', async () => {
    const lm = await run(['eval-lm', '--model', model, '--text', join(work, 'text.txt'), '--context', '8', '--json'], false);
    expect(lm.code).toBe(0);
    expect(lm.err.at(-1)).toMatch(/^scoring windows 100% (\d+)\/\1 {2}\S+ window\/s {2}done in /);
    const judged = await run(['eval', '--generations', join(work, 'gens.jsonl'), '--judge', 'afinn', '--json'], false);
    expect(judged.code).toBe(0);
    expect(judged.err.at(-1)).toMatch(/^judging \(afinn\) 100% 30\/30 /);
  });

  it('a real child process writes to a pipe: plain lines only', async () => {
    const { code, stderr } = await spawnCli(train('rm-child')).done;
    expect(code).toBe(0);
    expect(stderr).not.toContain('\r');
    expect(stderr).not.toContain('\x1b[');
    expect(stderr).toMatch(/^training 100% (\d+)\/\1 .* done in /m);
  }, 60_000);
});

describe('pargs train --max-pairs / --eval-pairs', () => {
  it('--max-pairs caps the held-out split too; --eval-pairs sets it', async () => {
    const capped = await run(train('rm-cap', '--eval-fraction', '0.5', '--max-pairs', '6', '--json'), false);
    expect(capped.code).toBe(0);
    expect(JSON.parse(capped.out.at(-1) as string)).toMatchObject({ trainPairs: 6, evalPairs: 6 });
    expect(capped.err.join('\n')).toMatch(/seeded subsample of 6 held-out pairs \(--max-pairs; --eval-pairs N to change\)/);
    const set = await run(train('rm-set', '--eval-fraction', '0.5', '--max-pairs', '6', '--eval-pairs', '3', '--json'), false);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.out.at(-1) as string)).toMatchObject({ trainPairs: 6, evalPairs: 3 });
  });
});
