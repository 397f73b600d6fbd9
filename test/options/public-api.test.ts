/**
 * Every public function refuses an unknown option key and every wrong-typed value with an OptionError
 * naming the key. The wrong values come from each function's schema; the calls go to the real public
 * functions, with otherwise valid options, so a function that forgot to check would run (and pass).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as pargs from '../../src/index.js';
import { ENCODE_PREFERENCES_SCHEMA } from '../../src/data/encode.js';
import { LOAD_PREFERENCES_SCHEMA } from '../../src/data/load.js';
import { SPLIT_SCHEMA } from '../../src/data/split.js';
import { ARGS_SAMPLE_SCHEMA, BEST_OF_N_SCHEMA } from '../../src/decode/baselines.js';
import { GENERATE_SCHEMA } from '../../src/decode/generate.js';
import { GUIDED_SAMPLE_SCHEMA } from '../../src/decode/guided.js';
import { NO_CACHE_SCHEMA } from '../../src/decode/reference-loop.js';
import { DEMO_SCHEMA } from '../../src/demo/pipeline.js';
import { INIT_BACKEND_SCHEMA } from '../../src/engine/backend.js';
import { AFINN_SCHEMA, ENDING_SCHEMA } from '../../src/eval/judges.js';
import { READ_OPTIONS_SCHEMA } from '../../src/io/safetensors.js';
import { LOAD_SCHEMA } from '../../src/lm/load.js';
import { PROGRESS_REPORTER_SCHEMA } from '../../src/progress/reporter.js';
import { boolean, closestKey, integer, oneOf, showValue, without, wrongValues, type Schema } from '../../src/options.js';
import { LOAD_HF_REWARD_MODEL_SCHEMA } from '../../src/reward/hf-reward-model.js';
import { BPE_SCHEMA } from '../../src/pretrain/bpe-trainer.js';
import { EVALUATE_LM_SCHEMA } from '../../src/pretrain/eval-lm.js';
import { PRETRAIN_SCHEMA } from '../../src/pretrain/options.js';
import { FEATURE_PASS_SCHEMA } from '../../src/reward/features.js';
import { TRAIN_PARTIAL_RM_SCHEMA } from '../../src/reward/trainer.js';
import { TRAIN_VALUE_HEAD_SCHEMA } from '../../src/reward/value-head.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

const { OptionError } = pargs;
let lm: pargs.CausalLM;
let rm: pargs.PartialRewardModel;
let modelDir = '';
let hfRmDir = '';
let work = '';
const PAIRS = [{ promptIds: [260, 5], chosenIds: [7, 8], rejectedIds: [9] }];

beforeAll(async () => {
  modelDir = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 81 })).dir;
  lm = await pargs.loadCausalLM(modelDir);
  hfRmDir = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 81, seqCls: {} })).dir;
  rm = new pargs.PartialRewardModel(lm, pargs.RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, pargs.createRng(1, 'head-init')), 'partial');
  work = await mkdtemp(join(tmpdir(), 'pargs-options-'));
});
afterAll(() => {
  rm.dispose();
  lm.dispose();
});

/** The error of a call that may throw synchronously or reject. */
async function errorOf(call: () => unknown): Promise<unknown> {
  try {
    const result = call();
    if (result && typeof (result as Promise<unknown>).then === 'function') await result;
    if (result && typeof (result as AsyncGenerator).next === 'function') await (result as AsyncGenerator).next();
  } catch (err) {
    return err;
  }
  return undefined;
}

async function expectOptionError(call: () => unknown, names: string): Promise<void> {
  const err = await errorOf(call);
  expect(err, `expected an OptionError naming ${names}`).toBeInstanceOf(OptionError);
  expect((err as Error).message).toContain(names);
}

interface Case {
  fn: string;
  schema: Schema;
  /** Valid options the wrong value is merged into. */
  base: () => Record<string, unknown>;
  call: (options: Record<string, unknown>) => unknown;
}

const demoConfig = { ...pargs.DEMO_CONFIGS.quick, trainPrompts: 2, testPrompts: 1, responseTokens: 1, rmEpochs: 1, bestOfN: 1, betaSweep: [0], batchSize: 1 };

const cases: Case[] = [
  { fn: 'generate', schema: GENERATE_SCHEMA, base: () => ({ lm, promptIds: [[260, 5]], maxNewTokens: 1 }), call: (o) => pargs.generate(o as never) },
  { fn: 'generateStream', schema: without(GENERATE_SCHEMA, 'onToken'), base: () => ({ lm, promptIds: [[260, 5]], maxNewTokens: 1 }), call: (o) => pargs.generateStream(o as never) },
  { fn: 'sample', schema: GENERATE_SCHEMA, base: () => ({ lm, promptIds: [[260, 5]], maxNewTokens: 1 }), call: (o) => pargs.sample(o as never) },
  { fn: 'guidedSample', schema: GUIDED_SAMPLE_SCHEMA, base: () => ({ lm, rewardModel: rm, promptIds: [[260, 5]], maxNewTokens: 1 }), call: (o) => pargs.guidedSample(o as never) },
  { fn: 'guidedSampleStream', schema: without(GUIDED_SAMPLE_SCHEMA, 'onToken'), base: () => ({ lm, rewardModel: rm, promptIds: [[260, 5]], maxNewTokens: 1 }), call: (o) => pargs.guidedSampleStream(o as never) },
  { fn: 'argsSample', schema: ARGS_SAMPLE_SCHEMA, base: () => ({ lm, rewardModel: rm, promptIds: [[260, 5]], maxNewTokens: 1 }), call: (o) => pargs.argsSample(o as never) },
  { fn: 'guidedSampleNoCache', schema: NO_CACHE_SCHEMA, base: () => ({ lm, rewardModel: rm, promptIds: [[260, 5]], maxNewTokens: 1 }), call: (o) => pargs.guidedSampleNoCache(o as never) },
  { fn: 'bestOfN', schema: BEST_OF_N_SCHEMA, base: () => ({ lm, rewardModel: rm, promptIds: [[260, 5]], maxNewTokens: 1, n: 1 }), call: (o) => pargs.bestOfN(o as never) },
  { fn: 'trainPartialRM', schema: TRAIN_PARTIAL_RM_SCHEMA, base: () => ({ backbone: lm, pairs: PAIRS, epochs: 1 }), call: (o) => pargs.trainPartialRM(o as never) },
  { fn: 'trainValueHead', schema: TRAIN_VALUE_HEAD_SCHEMA, base: () => ({ backbone: lm, pairs: PAIRS, targets: [[1, 0]], epochs: 1 }), call: (o) => pargs.trainValueHead(o as never) },
  { fn: 'extractPrefixFeatures', schema: FEATURE_PASS_SCHEMA, base: () => ({ backbone: lm, pairs: PAIRS, prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 }, shard: { index: 0, count: 1 } }), call: (o) => pargs.extractPrefixFeatures(o as never) },
  { fn: 'evaluateLM', schema: EVALUATE_LM_SCHEMA, base: () => ({ lm, text: 'hello there' }), call: (o) => pargs.evaluateLM(o as never) },
  {
    fn: 'pretrainLM',
    schema: PRETRAIN_SCHEMA,
    base: () => ({ corpus: ['hello there. '.repeat(40)], out: join(work, 'lm'), layers: 1, dim: 8, heads: 1, context: 8, vocabSize: 260, steps: 1, batchSize: 1, lr: 1e-3, seed: 0 }),
    call: (o) => pargs.pretrainLM(o as never),
  },
  { fn: 'runDemo', schema: DEMO_SCHEMA, base: () => ({ lm, model: 'tiny', trainPrompts: ['a', 'b'], testPrompts: ['c'], config: demoConfig, seed: 0 }), call: (o) => pargs.runDemo(o as never) },
  { fn: 'loadPreferences', schema: LOAD_PREFERENCES_SCHEMA, base: () => ({}), call: (o) => pargs.loadPreferences([{ prompt: 'p', chosen: 'a', rejected: 'b' }], o as never) },
  { fn: 'encodePreferences', schema: ENCODE_PREFERENCES_SCHEMA, base: () => ({}), call: (o) => pargs.encodePreferences([{ prompt: 'p', chosen: ' a', rejected: ' b' }] as never, lm.tokenizer, o as never) },
  { fn: 'splitPairs', schema: SPLIT_SCHEMA, base: () => ({ seed: 0, evalCount: 1 }), call: (o) => pargs.splitPairs([1, 2, 3], o as never) },
  { fn: 'afinnJudge', schema: AFINN_SCHEMA, base: () => ({}), call: (o) => pargs.afinnJudge(o as never) },
  { fn: 'endingJudge', schema: ENDING_SCHEMA, base: () => ({}), call: (o) => pargs.endingJudge(o as never) },
  { fn: 'initBackend', schema: INIT_BACKEND_SCHEMA, base: () => ({}), call: (o) => pargs.initBackend(o as never) },
  { fn: 'loadRewardModel', schema: LOAD_SCHEMA, base: () => ({}), call: (o) => pargs.loadRewardModel(hfRmDir, undefined, o as never) },
  { fn: 'loadHFRewardModel', schema: LOAD_HF_REWARD_MODEL_SCHEMA, base: () => ({}), call: (o) => pargs.loadHFRewardModel(hfRmDir, o as never) },
  { fn: 'rm.save', schema: { overwrite: boolean(), format: oneOf('pargs', 'hf') }, base: () => ({}), call: (o) => rm.save(join(work, 'saved-rm'), o as never) },
  { fn: 'loadCausalLM', schema: LOAD_SCHEMA, base: () => ({}), call: (o) => pargs.loadCausalLM(modelDir, o as never) },
  { fn: 'progressReporter', schema: PROGRESS_REPORTER_SCHEMA, base: () => ({}), call: (o) => pargs.progressReporter(o as never) },
  { fn: 'loadRewardModel', schema: LOAD_SCHEMA, base: () => ({}), call: (o) => pargs.loadRewardModel(work, lm, o as never) },
  { fn: 'readSafetensorsHeader', schema: READ_OPTIONS_SCHEMA, base: () => ({}), call: (o) => pargs.readSafetensorsHeader(join(modelDir, 'model.safetensors'), o as never) },
  { fn: 'SafetensorsFile.open', schema: READ_OPTIONS_SCHEMA, base: () => ({}), call: (o) => pargs.SafetensorsFile.open(join(modelDir, 'model.safetensors'), o as never) },
  { fn: 'openSafetensorsDir', schema: READ_OPTIONS_SCHEMA, base: () => ({}), call: (o) => pargs.openSafetensorsDir(modelDir, o as never) },
  { fn: 'formatDropReport', schema: { examples: integer({ min: 0 }) }, base: () => ({}), call: (o) => pargs.formatDropReport({ total: 1, kept: 1, dropped: [], counts: {} } as never, o as never) },
  { fn: 'trainByteLevelBpe', schema: BPE_SCHEMA, base: () => ({ vocabSize: 270 }), call: (o) => pargs.trainByteLevelBpe(['hello there'], o as never) },
  { fn: 'encode', schema: { addSpecialTokens: boolean() }, base: () => ({}), call: (o) => lm.tokenizer.encode('hi', o as never) },
  { fn: 'decode', schema: { skipSpecialTokens: boolean() }, base: () => ({}), call: (o) => lm.tokenizer.decode([5], o as never) },
];

describe('every public function with an options object', () => {
  it.each(cases.map((c) => [c.fn, c] as const))('%s refuses an unknown key, listing the valid ones', async (_name, c) => {
    await expectOptionError(() => c.call({ ...c.base(), noSuchOption: 1 }), '"noSuchOption"');
    const err = (await errorOf(() => c.call({ ...c.base(), noSuchOption: 1 }))) as Error;
    const firstKey = Object.keys(c.schema)[0];
    expect(err.message).toContain(`valid keys: ${firstKey}`);
  });

  it.each(cases.map((c) => [c.fn, c] as const))('%s refuses each wrong type, naming the key', async (_name, c) => {
    const wrong = wrongValues(c.schema);
    expect(wrong.length).toBeGreaterThanOrEqual(Object.keys(c.schema).length);
    for (const w of wrong) {
      // A nested wrong value (config: { testPrompts: 1 }) goes over the valid base value of its key.
      const [key] = w.path.split(/[.[]/);
      const base = c.base();
      await expectOptionError(() => c.call({ ...base, [key]: overlay(base[key], w.value) }), `"${w.path}"`);
    }
  });

  it.each([
    ['generate', () => pargs.generate('lm' as never)],
    ['guidedSample', () => pargs.guidedSample(null as never)],
    ['trainPartialRM', () => pargs.trainPartialRM([] as never)],
    ['pretrainLM', () => pargs.pretrainLM(7 as never)],
  ])('%s refuses options that are not an object', async (_name, call) => {
    await expectOptionError(call, 'options must be a plain object');
  });
});

/** `wrong` laid over `valid`: objects key by key, arrays index by index, anything else replaces. */
function overlay(valid: unknown, wrong: unknown): unknown {
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObject(valid) && isObject(wrong)) return { ...valid, ...Object.fromEntries(Object.entries(wrong).map(([k, v]) => [k, overlay(valid[k], v)])) };
  if (Array.isArray(valid) && Array.isArray(wrong)) return wrong.map((v, i) => overlay(valid[i], v));
  return wrong;
}

describe('positional arguments', () => {
  it.each([
    ['loadCausalLM dir', () => pargs.loadCausalLM(7 as never), 'dir'],
    ['loadPreferences source', () => pargs.loadPreferences(7 as never), 'source'],
    ['encodePreferences tokenizer', () => pargs.encodePreferences([], {} as never), 'tokenizer'],
    ['splitPairs pairs', () => pargs.splitPairs('abc' as never, { seed: 0, evalCount: 0 }), 'pairs'],
    ['saveFeatureShard features', () => pargs.saveFeatureShard({} as never, work), 'features'],
    ['loadFeatureShards dirs', () => pargs.loadFeatureShards('dir' as never), 'dirs'],
    ['loadFeatureShards memoryBudgetBytes', () => pargs.loadFeatureShards([work], '1' as never), 'memoryBudgetBytes'],
    ['loadRewardModel backbone', () => pargs.loadRewardModel(work, {} as never), 'backbone'],
    ['loadRewardModel dir', () => pargs.loadRewardModel(1 as never, lm), 'dir'],
    ['loadHFRewardModel dir', () => pargs.loadHFRewardModel(1 as never), 'dir'],
    ['rm.score prompt', () => rm.score(1 as never, 'x'), 'prompt'],
    ['rm.scorePrefixes response', () => rm.scorePrefixes('x', null as never), 'response'],
    ['rm.scorePrefixIds promptIds', () => rm.scorePrefixIds(['1'] as never, [1]), 'promptIds'],
    ['rm.scoreIdsBatch items', () => rm.scoreIdsBatch([{ promptIds: [1], responseIds: 'x' }] as never), 'items[0].responseIds'],
    ['rm.save dir', () => rm.save(undefined as never), 'dir'],
    ['rewardModelJudge rm', () => pargs.rewardModelJudge({} as never), 'rm'],
    ['builtinJudge name', () => pargs.builtinJudge(3 as never), 'name'],
    ['responseLogProbs items', () => pargs.responseLogProbs(lm, [{ promptIds: [1] }] as never), 'items[0].responseIds'],
    ['responseLogProbs lm', () => pargs.responseLogProbs({} as never, []), 'lm'],
    ['writeSafetensors tensors', () => pargs.writeSafetensors(join(work, 'x.safetensors'), 'tensors' as never), 'tensors'],
    ['writeTokenizerFiles tokenizer', () => pargs.writeTokenizerFiles(work, {} as never), 'tokenizer'],
    ['meanWithStderr values', () => pargs.meanWithStderr('123' as never), 'values'],
    ['winRate baseline', () => pargs.winRate([1], ['1'] as never), 'baseline'],
    ['distinctN responses', () => pargs.distinctN('text' as never, 2), 'responses'],
    ['diversity responses', () => pargs.diversity([1] as never), 'responses'],
    ['words text', () => pargs.words(5 as never), 'text'],
    ['formatDropReport report', () => pargs.formatDropReport({ kept: 1 } as never), 'report.total'],
    ['createRng stream', () => pargs.createRng(1, 2 as never), 'stream'],
    ['createRng seed', () => pargs.createRng('1' as never, 'x'), 'seed'],
    ['argmax values', () => pargs.argmax('x' as never), 'values'],
    ['logSoftmax logits', () => pargs.logSoftmax(null as never), 'logits'],
    ['softmax scores', () => pargs.softmax(null as never, 1), 'scores'],
    ['topKIndices values', () => pargs.topKIndices(null as never, 1), 'values'],
    ['topPIndices probs', () => pargs.topPIndices(null as never, 0.5), 'probs'],
    ['sampleIndex u', () => pargs.sampleIndex([1], '0.5' as never), 'u'],
    ['applyRepetitionPenalty seen', () => pargs.applyRepetitionPenalty(new Float32Array(2), 1 as never, 1.2), 'seen'],
    ['guidedScores rewards', () => pargs.guidedScores([0], null as never, 1), 'rewards'],
    ['chooseCandidate mode', () => pargs.chooseCandidate([0], { kind: 'sample', temperature: '1' } as never, 0.5), 'mode.temperature'],
    ['chooseToken strategy', () => pargs.chooseToken(new Float32Array(3), null as never, () => 0.5), 'strategy'],
    ['planPair pair', () => pargs.planPair(null as never, { mode: 'partial', alignment: 'eos', minPrefix: 1, eosId: null }), 'pair'],
    ['planPair options', () => pargs.planPair(PAIRS[0], { mode: 'partial', alignment: 'left', minPrefix: 1, eosId: null } as never), 'options.alignment'],
    ['perplexity logProbs', () => pargs.perplexity(null as never), 'logProbs'],
    ['klFromTrace trace', () => pargs.klFromTrace([{ logProb: 1 }] as never), 'trace[0].policyLogProb'],
    ['leftPad rows', () => pargs.leftPad(null as never, 0), 'rows'],
    ['countParameters config', () => pargs.countParameters(null as never), 'config'],
    ['mergeDropReports later', () => pargs.mergeDropReports({ total: 1, kept: 1, dropped: [], counts: {} } as never, null as never), 'later'],
    ['RewardHead.init spec', () => pargs.RewardHead.init({ kind: 'mlp' } as never, 4, () => 0.5), 'spec.hidden'],
    ['bradleyTerryPrefixLoss rChosen', () => pargs.bradleyTerryPrefixLoss(null as never, null as never), 'rChosen'],
    ['logSigmoid x', () => pargs.logSigmoid([1] as never), 'x'],
    ['tldrPrompt post', () => pargs.tldrPrompt(null as never), 'post'],
    ['encodeF16 src', () => pargs.encodeF16([1] as never), 'src'],
    ['decodeBF16 src', () => pargs.decodeBF16(new Float32Array(1) as never), 'src'],
    ['computeDiagnostics head', () => pargs.computeDiagnostics(null as never, null as never, []), 'head'],
    ['CausalLM.prefill rows', () => lm.prefill('ab' as never), 'rows'],
    ['CausalLM.forward input', () => lm.forward({ ids: [[1]], logits: 'first' } as never), 'input.logits'],
    ['CausalLM.step cache', () => lm.step({} as never, [1]), 'cache'],
    ['CausalLM.logitsFromHidden hidden', () => lm.logitsFromHidden([[1]] as never), 'hidden'],
    ['tokenizer.encode text', () => lm.tokenizer.encode(5 as never), 'text'],
    ['tokenizer.decode ids', () => lm.tokenizer.decode('5' as never), 'ids'],
    ['tokenizer.encodeChat text', () => lm.tokenizer.encodeChat(123 as never), 'encodeChat: text must be a string, got 123'],
    ['tokenizer.applyChatTemplate messages', () => lm.tokenizer.applyChatTemplate(123 as never), 'applyChatTemplate: messages must be'],
    ['tokenizer.applyChatTemplate options', () => lm.tokenizer.applyChatTemplate([{ role: 'user', content: 'x' }], { addGenerationPromt: true } as never), 'unknown option "addGenerationPromt" (did you mean addGenerationPrompt?)'],
    ['tokenizer.renderChat messages', () => lm.tokenizer.renderChat(null as never), 'renderChat: messages must be'],
    ['tokenizer.renderChat options', () => lm.tokenizer.renderChat([{ role: 'user', content: 'x' }], { addGenerationPrompt: 'yes' } as never), 'addGenerationPrompt'],
    ['tokenizer.idToToken id', () => lm.tokenizer.idToToken('7' as never), 'id'],
    ['PargsTokenizer.fromJson tokenizerJson', () => pargs.PargsTokenizer.fromJson(null as never), 'fromJson: tokenizerJson must be a tokenizer.json object, got null'],
    ['PargsTokenizer.fromJson tokenizerConfig', () => pargs.PargsTokenizer.fromJson({}, 'cfg' as never), 'tokenizerConfig'],
    ['PargsTokenizer.fromDir dir', () => pargs.PargsTokenizer.fromDir(7 as never), 'fromDir: dir must be a string, got 7'],
    ['ChatTemplate.fromConfig config', () => pargs.ChatTemplate.fromConfig(null as never), 'ChatTemplate.fromConfig: config must be a tokenizer_config.json object, got null'],
    ['ChatTemplate.fromConfig where', () => pargs.ChatTemplate.fromConfig({}, 5 as never), 'where'],
    ['ChatTemplate.render options', () => pargs.ChatTemplate.fromConfig({ chat_template: 'x' })?.render([{ role: 'user', content: 'x' }], { add_generation_prompt: true } as never), 'unknown option "add_generation_prompt"'],
    ['hhTranscript messages', () => pargs.hhTranscript(null as never), 'hhTranscript: messages must be a non-empty list of {role, content} messages, got null'],
    ['hhTranscript options', () => pargs.hhTranscript([{ role: 'user', content: 'x' }], 'yes' as never), 'hhTranscript: options must be a plain object'],
  ])('%s of the wrong type is an OptionError naming it', async (_name, call, names) => {
    await expectOptionError(call, names);
  });
});

describe('messages', () => {
  it('suggest the closest key for a typo and show the value received', async () => {
    const err = (await errorOf(() => pargs.guidedSample({ lm, rewardModel: rm, promptIds: [[260]], topk: 3 } as never))) as Error;
    expect(err.message).toMatch(/guidedSample: unknown option "topk" \(did you mean topK\?\)/);
    const typed = (await errorOf(() => pargs.guidedSample({ lm, rewardModel: rm, promptIds: [[260]], mode: { kind: 'sample', temperature: '0.7' } } as never))) as Error;
    expect(typed.message).toBe('guidedSample: option "mode.temperature" must be a finite number > 0, got "0.7"');
    const nested = (await errorOf(() => pargs.guidedSample({ lm, rewardModel: rm, promptIds: [[260]], mode: { kind: 'sample', temprature: 1 } } as never))) as Error;
    expect(nested.message).toMatch(/unknown option "mode.temprature" \(did you mean temperature\?\); valid keys: kind, temperature/);
  });

  it('guidedSample({ temperature }) is refused, not dropped', async () => {
    await expectOptionError(() => pargs.guidedSample({ lm, rewardModel: rm, promptIds: [[260]], temperature: 0.7 } as never), '"temperature"');
  });

  it('cut long values and name class instances', () => {
    expect(showValue('x'.repeat(100))).toHaveLength(60);
    expect(showValue(new Map())).toBe('a Map');
    expect(showValue(Number.NaN)).toBe('NaN');
    expect(closestKey('maxNewToken', ['maxNewTokens', 'seed'])).toBe('maxNewTokens');
    expect(closestKey('zzzzzz', ['maxNewTokens', 'seed'])).toBeUndefined();
  });
});
