/** `pargs demo`: the whole PARGS path on the bundled model, with tables on stdout and an HTML report. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEMO_CONFIGS } from '../demo/config.js';
import { runDemo } from '../demo/pipeline.js';
import { renderReport } from '../demo/report.js';
import { DEMO_TASKS, type DemoTask } from '../demo/tasks.js';
import { betaSweepTable, cellLegend, prefixAccuracyTable, resultsTable, rewardModelTable } from '../demo/tables.js';
import { bundledModelPath } from '../bundled.js';
import { OptionError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { guardOutput } from '../io/fs-errors.js';
import { claimOutputDir } from '../io/output-dir.js';
import { loadCausalLM } from '../lm/load.js';
import { defineCommand } from './args.js';
import { cliProgress } from './progress.js';


async function readDemoPrompts(file: string): Promise<{ train: string[]; test: string[] }> {
  let parsed: { train?: unknown; test?: unknown };
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new OptionError(`cannot read demo prompts from ${file}: ${(err as Error).message}`);
  }
  const ok = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string' && s.trim() !== '');
  if (!ok(parsed.train) || !ok(parsed.test)) throw new OptionError(`${file} must hold {"train": [prompts…], "test": [prompts…]} with non-empty strings`);
  return { train: parsed.train, test: parsed.test };
}

export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'run the whole PARGS path on the bundled model and write an HTML report',
  usage: 'pargs demo [--quick] [--task sentiment|ending] [--out DIR [--overwrite]] [--model DIR] [--prompts FILE] [--seed S] [--seeds N] [--json]',
  flags: {
    quick: { type: 'boolean', help: 'a smoke test: a small configuration and one seed (under a minute)' },
    task: { type: 'string', default: 'sentiment', help: 'gold judge: sentiment (AFINN of the whole response) | ending (AFINN of its last 6 words only)', placeholder: 'NAME' },
    out: { type: 'string', default: 'pargs-report', help: 'folder for index.html and results.json (new, empty or an earlier report)', placeholder: 'DIR' },
    overwrite: { type: 'boolean', help: 'replace an earlier report in --out' },
    model: { type: 'string', help: 'model folder (default: the bundled models/sotu-lm)', placeholder: 'DIR' },
    prompts: { type: 'string', help: 'JSON {train, test} prompt lists (default: prompts.json in the model folder)', placeholder: 'FILE' },
    seed: { type: 'number', integer: true, default: 1, help: 'first seed; seed i of --seeds N is S + i' },
    seeds: { type: 'number', integer: true, min: 1, help: 'run the whole pipeline for N seeds; tables give mean ± s.e. across seeds (default 3, --quick 1)', placeholder: 'N' },
    json: { type: 'boolean', help: 'print the whole result as one JSON object on the last stdout line instead of tables' },
    backend: { type: 'string', help: 'tensorflow | wasm | cpu | auto', placeholder: 'NAME' },
  },
  async run(flags, _positionals, io) {
    const task = flags.task as DemoTask;
    if (!DEMO_TASKS.includes(task)) throw new OptionError(`pargs demo: --task must be one of ${DEMO_TASKS.join(', ')}, got "${flags.task}"`);
    const model = resolve(flags.model ?? bundledModelPath());
    const promptsFile = flags.prompts ?? join(model, 'prompts.json');
    if (!existsSync(promptsFile)) throw new OptionError(`no demo prompts: ${promptsFile} does not exist; pass --prompts FILE with {"train": […], "test": […]}`);
    const prompts = await readDemoPrompts(promptsFile);
    const config = DEMO_CONFIGS[flags.quick ? 'quick' : 'default'];
    // Claimed (and locked) for the whole run, so a refusal comes before the demo's minutes of work.
    const claimed = await claimOutputDir(flags.out as string, { kind: 'demo-report', what: 'pargs demo --out', overwrite: flags.overwrite, protect: [model] });
    let lm: Awaited<ReturnType<typeof loadCausalLM>> | undefined;
    try {
      lm = await loadCausalLM(model, { backend: flags.backend as 'auto' | undefined });
      io.err(`pargs demo${flags.quick ? ' --quick' : ''}: ${model} (${lm.config.modelType}, ${lm.config.numLayers} layers, d ${lm.config.hiddenSize}) on ${lm.backend.description}`);
      const t0 = performance.now();
      // Stages as lines with the elapsed time; the counted parts as a bar (terminal) or tenths (pipe).
      const onEvent = cliProgress(io, {
        json: flags.json,
        describe: (e) => (e.kind === 'stage' ? `[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${String(e.stage)}` : undefined),
      });
      const result = await runDemo({
        lm,
        model: flags.model ?? 'models/sotu-lm',
        trainPrompts: prompts.train,
        testPrompts: prompts.test,
        config,
        task,
        seed: flags.seed ?? 1,
        seeds: flags.seeds ?? config.seeds,
        signal: io.signal,
        onEvent,
      });
      const out = flags.out as string;
      await guardOutput(claimed.dir, async () => {
        await writeFileAtomic(join(claimed.dir, 'index.html'), renderReport(result));
        await writeFileAtomic(join(claimed.dir, 'results.json'), `${JSON.stringify(result, null, 1)}\n`);
      });
      await claimed.markComplete();
      if (flags.json) io.out(JSON.stringify(result));
      else {
        const p = result.summary.preferences;
        io.out(`${cellLegend(result)}\n`);
        io.out(`Preference pairs per seed: ${p.pairs.mean.toFixed(0)} (${p.ties.mean.toFixed(0)} ties dropped): ${p.guideTrain.mean.toFixed(0)} train the guiding RMs, ${p.guideEval.mean.toFixed(0)} held out, ${p.judgeTrain.mean.toFixed(0)} train the evaluation RM\n`);
        io.out(`Reward models (same head, learning rate and optimizer steps):\n${rewardModelTable(result)}\n`);
        io.out(`Prefix accuracy by position (held-out pairs):\n${prefixAccuracyTable(result)}\n`);
        io.out(`Decoding on ${config.testPrompts} unseen prompts (β = ${config.beta}, top-${config.topK}, ${config.responseTokens} tokens):\n${resultsTable(result)}\n`);
        io.out(`β sweep:\n${betaSweepTable(result)}\n`);
        io.out(`Report: ${join(out, 'index.html')} (${result.seconds.toFixed(0)} s)`);
      }
      return 0;
    } finally {
      lm?.dispose();
      await claimed.release();
    }
  },
});
