/**
 * PARGS decoding speed of two checkouts of pargs, side by side: did a change slow the fused or the
 * separate-backbone path? Each round runs one child process per checkout, in an order that flips every
 * round, so a change in machine load or a second-runner advantage hits both alike; the printed ratio
 * is the median of the per-round ratios.
 *
 *   npx tsx bench/guided-revisions.ts --base DIR [--head DIR] [--rounds R]
 *
 * `--base` and `--head` are project roots (e.g. a `git worktree add --detach /tmp/base REV`, with
 * node_modules linked and `node scripts/bundle-gradients.mjs` run there); `--head` defaults to this one.
 * Workload (per child): models/sotu-lm of the head checkout, one seeded random linear head, k = 10, 64 new
 * tokens, EOS ignored, B = 1 and 4 text prompts; fused (reward backbone = the LM) and separate (a second
 * load of the same folder). Three timed runs per method after a 4-token warm-up; the children also
 * print their generated ids, which must agree between the checkouts.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { flag, intFlag, loadAverage, log, median, ROOT, round, table } from './common.js';

import type { ChildResult } from './guided-revisions-child.js';

async function main(): Promise<void> {
  const base = flag('base');
  if (!base) throw new Error('--base DIR (a project root of the revision to compare against) is required');
  const head = resolve(flag('head') ?? ROOT);
  const rounds = intFlag('rounds', 5);
  const modelDir = join(head, 'models', 'sotu-lm');
  const trees = { base: resolve(base), head };
  const perRound: { base: ChildResult; head: ChildResult }[] = [];
  const loadBefore = loadAverage();
  for (let r = 0; r < rounds; r++) {
    const got = {} as { base: ChildResult; head: ChildResult };
    // The order flips every round, so running second (warm file cache, a cooler core) favours neither.
    for (const which of r % 2 === 0 ? (['base', 'head'] as const) : (['head', 'base'] as const)) {
      log(`[revisions] round ${r + 1}/${rounds}: ${which} (${trees[which]}), load ${loadAverage()}`);
      const out = execFileSync('npx', ['tsx', join(head, 'bench', 'guided-revisions-child.ts'), trees[which], modelDir], { cwd: trees[which], encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      got[which] = JSON.parse(out.trim().split('\n').pop() as string) as ChildResult;
    }
    perRound.push(got);
  }
  const keys = Object.keys(perRound[0].head.ms);
  const rows = keys.map((k) => {
    const baseMs = median(perRound.flatMap((p) => p.base.ms[k]));
    const headMs = median(perRound.flatMap((p) => p.head.ms[k]));
    const ratio = median(perRound.map((p) => median(p.base.ms[k]) / median(p.head.ms[k])));
    const same = perRound.every((p) => p.base.ids[k] === p.head.ids[k]);
    return { k, baseMs, headMs, ratio, same };
  });
  console.log(table(['path', 'base ms / 64 tokens', 'head ms / 64 tokens', 'head speed ÷ base', 'same tokens'], rows.map((x) => [x.k, String(round(x.baseMs, 0)), String(round(x.headMs, 0)), `${round(x.ratio)}×`, x.same ? 'yes' : 'NO'])));
  console.log(JSON.stringify({ bench: 'guided-revisions', base: trees.base, head: trees.head, rounds, loadBefore, loadAfter: loadAverage(), paths: Object.fromEntries(rows.map((x) => [x.k, { headSpeedOverBase: round(x.ratio, 3), sameTokens: x.same }])) }));
  if (rows.some((x) => !x.same)) process.exitCode = 1;
}

await main();
