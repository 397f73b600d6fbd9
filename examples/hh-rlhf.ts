/**
 * Train a partial-sequence reward model on an HH-RLHF file (whole dialogues {chosen, rejected}), print
 * its diagnostics, and score a prefix-by-prefix reward curve.
 *   npx tsx examples/hh-rlhf.ts FILE.jsonl[.gz] [MODEL_DIR] [MAX_PAIRS]
 */
import { pathToFileURL } from 'node:url';
import { bundledModelPath, encodePreferences, formatDropReport, loadCausalLM, loadPreferences, splitPairs, trainPartialRM, type RewardDiagnostics } from 'pargs';

export async function trainOnHh(file: string, modelDir: string, maxPairs: number, log: (line: string) => void = console.log): Promise<RewardDiagnostics | undefined> {
  const lm = await loadCausalLM(modelDir);
  try {
    const set = await loadPreferences(file, { format: 'hh' });
    log(`loaded: ${formatDropReport(set.report)}`);
    const { pairs, report } = encodePreferences(set, lm.tokenizer, { maxLength: 256 });
    log(`encoded: ${formatDropReport(report)}`);
    const { train, eval: held } = splitPairs(pairs.slice(0, maxPairs), { evalFraction: 0.2, seed: 1 });
    const rm = await trainPartialRM({
      backbone: lm, pairs: train, evalPairs: held, epochs: 2, batchSize: 256, lr: 1e-3, seed: 1,
      onProgress: (e) => e.kind === 'features' && e.sequencesDone === e.sequences && log(`feature pass (${e.split}): ${e.sequences} sequences, ${e.tokens} tokens`),
    });
    const diagnostics = rm.training.history.evals.at(-1)?.diagnostics;
    if (diagnostics) log(`held-out accuracy ${diagnostics.fullAccuracy.toFixed(3)}, by tenth of the response: ${diagnostics.prefixAccuracyByDecile.map((a) => a.toFixed(2)).join(' ')}`);
    // An encoded pair: within maxLength, so within the model's context (scoring refuses longer ones).
    const example = pairs[0];
    const curve = await rm.scorePrefixIds(example.promptIds, example.chosenIds);
    log(`reward after each token of the first chosen response: ${curve.slice(0, 12).map((r) => r.toFixed(2)).join(' ')} …`);
    rm.dispose();
    return diagnostics;
  } finally {
    lm.dispose();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, modelDir = bundledModelPath(), maxPairs = '400'] = process.argv.slice(2);
  if (!file) {
    console.error('usage: npx tsx examples/hh-rlhf.ts FILE.jsonl[.gz] [MODEL_DIR] [MAX_PAIRS]');
    process.exit(2);
  }
  await trainOnHh(file, modelDir, Number(maxPairs));
}
