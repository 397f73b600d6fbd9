/** `pargs features`: one shard of the backbone feature pass, to be merged by `pargs train --features`. */
import { resolveMaxLength } from './max-length.js';
import { encodePreferences, formatDropReport, loadPreferences } from '../data/index.js';
import { OptionError } from '../errors.js';
import { loadCausalLM } from '../lm/load.js';
import { writeFeatureShardFiles } from '../reward/feature-shards.js';
import { extractPrefixFeatures } from '../parallel/dispatch.js';
import { claimOutputDir } from '../io/output-dir.js';
import { defineCommand } from './args.js';
import { shardFromEnv } from './shard-env.js';
import { cliProgress } from './progress.js';

/** "i/n" → {index, count}. */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const shard = m ? { index: Number(m[1]), count: Number(m[2]) } : undefined;
  if (!shard || !Number.isSafeInteger(shard.count) || shard.count < 1 || shard.index >= shard.count) {
    throw new OptionError(`--shard must be INDEX/COUNT with 0 ≤ INDEX < COUNT (integers below 2^53), e.g. 0/4; got "${text}"`);
  }
  return shard;
}

export const featuresCommand = defineCommand({
  name: 'features',
  summary: 'compute one shard of the frozen-backbone prefix features (for sharded training)',
  usage: 'pargs features --model DIR --data FILE --out DIR [--shard I/N|auto] [--mode partial|full] [--alignment eos|shortest] [--max-length N] [--overwrite]',
  flags: {
    model: { type: 'string', help: 'frozen backbone folder', placeholder: 'DIR' },
    data: { type: 'string', help: 'preference pairs (every shard must read the same file)', placeholder: 'FILE' },
    out: { type: 'string', help: 'shard folder to write (new, empty or an earlier shard)', placeholder: 'DIR' },
    overwrite: { type: 'boolean', help: 'replace an earlier shard in --out' },
    shard: { type: 'string', default: '0/1', help: 'this job’s shard: pairs with index ≡ I (mod N); auto: from the Slurm / Kubernetes array-job environment', placeholder: 'I/N|auto' },
    mode: { type: 'string', default: 'partial', help: 'partial or full (as pargs train --mode)', placeholder: 'MODE' },
    alignment: { type: 'string', default: 'eos', help: 'eos or shortest', placeholder: 'A' },
    minPrefix: { type: 'number', integer: true, min: 1, default: 1, help: 'shortest prefix compared' },
    maxLength: { type: 'number', integer: true, min: 2, help: 'drop pairs longer than N tokens (default: 512 or the model context, the smaller)' },
    workers: { type: 'number', integer: true, min: 1, help: 'worker threads, each with its own copy of the weights (default PARGS_WORKERS, else the cores)' },
    backend: { type: 'string', help: 'tensorflow | wasm | cpu | auto', placeholder: 'NAME' },
  },
  async run(flags, _positionals, io) {
    for (const key of ['model', 'data', 'out'] as const) if (!flags[key]) throw new OptionError(`pargs features: --${key} is required`);
    if (flags.mode !== 'partial' && flags.mode !== 'full') throw new OptionError(`pargs features: --mode must be partial or full, got "${flags.mode}"`);
    if (flags.alignment !== 'eos' && flags.alignment !== 'shortest') throw new OptionError(`pargs features: --alignment must be eos or shortest, got "${flags.alignment}"`);
    const fromEnv = flags.shard === 'auto' ? shardFromEnv() : undefined;
    if (fromEnv) io.err(`--shard auto: shard ${fromEnv.index}/${fromEnv.count} (from the ${fromEnv.source} environment)`);
    const shard = fromEnv ? { index: fromEnv.index, count: fromEnv.count } : parseShard(flags.shard as string);
    // Claimed (and locked) for the whole run, so a refusal comes before the long feature pass.
    const claimed = await claimOutputDir(flags.out as string, { kind: 'features', what: 'pargs features --out', overwrite: flags.overwrite, protect: [flags.model as string] });
    let lm: Awaited<ReturnType<typeof loadCausalLM>> | undefined;
    try {
      lm = await loadCausalLM(flags.model as string, { backend: flags.backend as 'auto' | undefined });
      const set = await loadPreferences(flags.data as string, { signal: io.signal });
      const { pairs, report } = encodePreferences(set, lm.tokenizer, { maxLength: resolveMaxLength(flags.maxLength, lm, 'features') });
      io.err(`${flags.data}: ${formatDropReport(report)}`);
      const features = await extractPrefixFeatures({
        backbone: lm, pairs, shard, workers: flags.workers, signal: io.signal,
        prefixes: { mode: flags.mode, alignment: flags.alignment, minPrefix: flags.minPrefix as number },
        onProgress: cliProgress(io),
      });
      await writeFeatureShardFiles(features, claimed.dir, shard);
      await claimed.markComplete();
      io.out(`wrote shard ${shard.index}/${shard.count} (${features.pairIndices.length} of ${pairs.length} pairs) to ${flags.out}`);
      features.store.dispose();
      return 0;
    } finally {
      lm?.dispose();
      await claimed.release();
    }
  },
});
