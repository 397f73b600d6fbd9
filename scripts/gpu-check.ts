/**
 * The Node half of scripts/gpu-check.sh: every check prints PASS or FAIL, and any FAIL exits 1.
 *   1. the native backend reports a GPU device (asked of the backend, not read from the package name);
 *   2. the bundled model's logits on the GPU are within 1e-3 of WebAssembly's, greedy ids identical;
 *   3. plain and PARGS tokens/s at GPT-2-medium shapes (random weights), B = 1 and 8, k = 10.
 */
import { execFileSync } from 'node:child_process';
import { initBackend } from '../src/engine/backend.js';
import { generate } from '../src/parallel/dispatch.js';
import { guidedSample } from '../src/parallel/dispatch.js';
import { CausalLM } from '../src/lm/causal-lm.js';
import { parseModelConfig } from '../src/lm/config.js';
import { loadCausalLM } from '../src/lm/load.js';
import { PargsTokenizer } from '../src/lm/tokenizer.js';
import { Transformer } from '../src/lm/transformer.js';
import { createRng } from '../src/random.js';
import { RewardHead } from '../src/reward/head.js';
import { PartialRewardModel } from '../src/reward/reward-model.js';
import { EOT, tinyTokenizerJson } from '../test/helpers/tiny-model.js';
import { randomParams } from '../bench/engine-model.js';

const MODEL = 'models/sotu-lm';
const ROWS = [[84, 3298, 1293, 44, 259], [84, 447, 394, 398, 464, 880, 342]];
let failed = false;
const report = (ok: boolean, what: string): void => {
  console.log(`${ok ? 'PASS' : 'FAIL'}: ${what}`);
  if (!ok) failed = true;
};

/** Last-position logits of ROWS and 16 greedy ids per row, as JSON, on `backend` (run in a child for wasm). */
async function reference(lm: CausalLM): Promise<{ logits: number[]; ids: number[][] }> {
  const out = lm.prefill(ROWS);
  const logits = Array.from(await out.logits.data());
  out.logits.dispose();
  out.hidden.dispose();
  out.cache.dispose?.();
  const gen = await generate({ lm, promptIds: ROWS, maxNewTokens: 16, seed: 1, strategy: { kind: 'greedy' } });
  return { logits, ids: gen.map((g) => g.generatedIds) };
}

if (process.argv[2] === '--reference') {
  const lm = await loadCausalLM(MODEL, { backend: 'wasm' });
  process.stdout.write(JSON.stringify(await reference(lm)));
  process.exit(0);
}

const info = await initBackend({ backend: 'tensorflow' });
console.log(`backend: ${info.description}`);
report(info.gpu, `TensorFlow runs on a GPU device (isUsingGpuDevice = ${info.gpu})`);
if (!info.gpu) process.exit(1);

const gpuLm = await loadCausalLM(MODEL, { backend: 'tensorflow' });
const onGpu = await reference(gpuLm);
const onCpu = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', 'scripts/gpu-check.ts', '--reference'], { encoding: 'utf8', maxBuffer: 1 << 28 })) as typeof onGpu;
const maxDiff = onGpu.logits.reduce((m, v, i) => Math.max(m, Math.abs(v - onCpu.logits[i])), 0);
report(maxDiff <= 1e-3, `bundled-model logits GPU vs WebAssembly: max |Δ| = ${maxDiff.toExponential(2)} (≤ 1e-3)`);
report(JSON.stringify(onGpu.ids) === JSON.stringify(onCpu.ids), 'greedy ids identical on GPU and WebAssembly (16 tokens × 2 rows)');
gpuLm.dispose();

// GPT-2-medium shapes, random weights, the tiny tokenizer (token ids only).
const config = parseModelConfig({ model_type: 'gpt2', n_layer: 24, n_embd: 1024, n_head: 16, vocab_size: 50257, n_positions: 1024, bos_token_id: 50256, eos_token_id: 50256 }, 'gpt2-medium (random)');
const tokenizer = PargsTokenizer.fromJson(tinyTokenizerJson().json, { tokenizer_class: 'GPT2Tokenizer', bos_token: EOT, eos_token: EOT });
const generation = { bosTokenId: config.bosTokenId, eosTokenIds: config.eosTokenIds, padTokenId: null, repetitionPenalty: 1, unsupportedProcessors: [] };
const lm = new CausalLM(config, tokenizer, generation, new Transformer(config, randomParams(config, 1)), info, 'memory:gpt2-medium', 'memory:gpt2-medium:1');
const rm = new PartialRewardModel(lm, RewardHead.init({ kind: 'linear' }, config.hiddenSize, createRng(1, 'head')), 'partial');
const NEW = 32;
for (const B of [1, 8]) {
  const promptIds = Array.from({ length: B }, (_, r) => Array.from({ length: 64 }, (_, i) => (r * 977 + i * 31) % 50000));
  for (const method of ['plain', 'pargs'] as const) {
    const run = (): Promise<unknown> => method === 'plain'
      ? generate({ lm, promptIds, maxNewTokens: NEW, seed: 1, strategy: { kind: 'sample' }, workers: 1 })
      : guidedSample({ lm, rewardModel: rm, promptIds, topK: 10, beta: 1, maxNewTokens: NEW, seed: 1, workers: 1 });
    await run(); // warm-up: kernel selection and allocation
    const start = performance.now();
    await run();
    const seconds = (performance.now() - start) / 1000;
    console.log(`gpt2-medium shapes, ${method.padEnd(5)} B = ${B}: ${((B * NEW) / seconds).toFixed(1)} tokens/s`);
  }
}
rm.dispose();
lm.dispose();
process.exit(failed ? 1 : 0);
