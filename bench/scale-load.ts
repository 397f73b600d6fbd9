/**
 * One model load in a fresh process, for bench/scale.ts: initialises the backend, then loads the folder
 * and reports the load's seconds and its peak resident memory, then the peak of a first forward (on
 * native, weights that never reached TensorFlow would be copied there on first use, so a load that
 * left host copies behind shows up here). Prints one JSON line.
 *
 *   npx tsx bench/scale-load.ts DIR [--backend tensorflow]
 */
import { initBackend, type BackendName } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import { countParameters } from '../src/lm/config.js';
import { loadCausalLM } from '../src/lm/load.js';
import { peakRssBytes, resetPeakRss, rssBytes } from './rss.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: scale-load.ts DIR [--backend NAME]');
const at = process.argv.indexOf('--backend');
const backend = (at > 0 ? process.argv[at + 1] : 'tensorflow') as BackendName;

await initBackend({ backend });
// Warm the backend's own allocations (kernels, thread pools) so the baseline excludes them.
tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync());
const baseline = rssBytes();
const peakReset = resetPeakRss();
const started = performance.now();
const lm = await loadCausalLM(dir, { backend });
const loadSeconds = (performance.now() - started) / 1000;
const loadPeak = peakRssBytes();
const afterLoad = rssBytes();
const weightsF32 = 4 * countParameters(lm.config);
resetPeakRss();
const out = lm.forward({ ids: [[1, 2, 3, 4, 5, 6, 7, 8]], logits: 'last' });
(out.logits as tf.Tensor).dataSync();
tf.dispose([out.logits, out.hidden].filter((t): t is tf.Tensor => t !== undefined));
const forwardPeak = peakRssBytes();
const peak = Math.max(loadPeak, forwardPeak);
lm.dispose();
process.stdout.write(`${JSON.stringify({
  dir, backend, parameters: countParameters(lm.config), weightsF32Bytes: weightsF32, peakReset,
  baselineRss: baseline, loadSeconds: Math.round(loadSeconds * 100) / 100, loadPeakRss: loadPeak, rssAfterLoad: afterLoad, firstForwardPeakRss: forwardPeak,
  loadPeakOverWeights: Math.round((loadPeak / weightsF32) * 100) / 100,
  loadPeakAboveBaselineOverWeights: Math.round(((loadPeak - baseline) / weightsF32) * 100) / 100,
  firstForwardPeakAboveBaselineOverWeights: Math.round(((forwardPeak - baseline) / weightsF32) * 100) / 100,
  // The load is not over until the weights sit where the forward reads them: the peak of both.
  peakRss: peak, peakOverWeights: Math.round((peak / weightsF32) * 100) / 100,
  peakAboveBaselineOverWeights: Math.round(((peak - baseline) / weightsF32) * 100) / 100,
})}\n`);
