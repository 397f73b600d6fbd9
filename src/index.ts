/**
 * pargs — partial-sequence reward models and tokenwise reward-guided decoding on TensorFlow.js.
 * Every public export is listed in docs/api.md.
 */
export * from './errors.js';
export { AUTO_NATIVE_MIN_PARAMETERS, autoChoice, initBackend, currentBackend, type BackendInfo, type BackendName, type BackendWorkload, type InitBackendOptions } from './engine/backend.js';
export { logSigmoid, activation } from './engine/ops.js';
export { readSafetensorsHeader, SafetensorsFile, writeSafetensors, type SafetensorsDtype, type TensorToWrite } from './io/safetensors.js';
export { openSafetensorsDir, type WeightSource } from './io/weight-source.js';
export { decodeF16, encodeF16, decodeBF16, encodeBF16 } from './io/float16.js';
export { parseModelConfig, countParameters, type ModelConfig, type ModelType, type RopeScaling } from './lm/config.js';
export { loadCausalLM, type LoadOptions } from './lm/load.js';
export { CausalLM, leftPad, type StepOutput } from './lm/causal-lm.js';
export { BranchedLM } from './lm/branched-lm.js';
export { KVCache, type LayerKV } from './lm/kv-cache.js';
export { Transformer, type ForwardInput, type ForwardOutput, type LogitsSelection } from './lm/transformer.js';
export { PargsTokenizer, type EncodeOptions, type DecodeOptions } from './lm/tokenizer.js';
export { ChatTemplate, hhTranscript, type ChatMessage, type ChatRendering, type ChatRenderOptions } from './lm/chat-template.js';
export type { GenerationDefaults } from './lm/generation-config.js';
export type { TransformerParams, LayerParams, NormParams } from './lm/params.js';
export { chooseToken, renderPrompt, DEFAULT_MAX_NEW_TOKENS, type GenerateOptions, type Generation, type GeneratedToken, type DecodeStrategy, type Prompt } from './decode/generate.js';
export { argmax, logSoftmax, softmax, topKIndices, topPIndices, sampleIndex, applyRepetitionPenalty } from './decode/policy.js';
export { createRng, type Rng } from './random.js';
export { trainByteLevelBpe, writeTokenizerFiles, type BpeTrainOptions, type TrainedTokenizer } from './pretrain/bpe-trainer.js';
export { pretrainLM, type PretrainResult } from './pretrain/trainer.js';
export type { PretrainOptions, PretrainEvent } from './pretrain/options.js';
export { evaluateLM, type EvaluateLMOptions, type LMEvaluation } from './pretrain/eval-lm.js';
export * from './data/index.js';
export { bradleyTerryPrefixLoss, type BradleyTerryOptions } from './reward/loss.js';
export { RewardHead, type HeadSpec } from './reward/head.js';
export { planPair, type TokenPair, type PairPlan, type RewardMode, type Alignment } from './reward/prefixes.js';
export { type FeaturePassOptions, type PrefixFeatures, type Shard } from './reward/features.js';
export { FeatureStore } from './reward/feature-store.js';
export { saveFeatureShard, loadFeatureShards } from './reward/feature-shards.js';
export { type TrainPartialRMOptions, type TrainEvent, type TrainingHistory, type TextPair, type PairsInput } from './reward/trainer.js';
export type { Trainable } from './reward/train-options.js';
export type { PrefixSelection, Weighting } from './reward/examples.js';
export { computeDiagnostics, type RewardDiagnostics } from './reward/diagnostics.js';
export { PartialRewardModel, loadRewardModel, type RewardModelManifest, type RewardModelTraining, type TrainedBlocks } from './reward/reward-model.js';
export { HFRewardModel, loadHFRewardModel, type LoadHFRewardModelOptions } from './reward/hf-reward-model.js';
export type { RewardModel, ScoreItem } from './reward/reward-model-interface.js';
export { isValueHead, VALUE_OBJECTIVE, type TrainValueHeadOptions } from './reward/value-head.js';
export { type GuidedSampleOptions, type GuidedGeneration, type GuidedToken, type CandidateTrace, type StopOptions, type GuidedMode } from './decode/guided.js';
export type { BridgeTokens } from './decode/token-bridge.js';
export { guidedScores, chooseCandidate } from './decode/policy.js';
export { guidedSampleNoCache } from './decode/reference-loop.js';
// The entry points that take `workers`: the single-thread loops above, dispatched to worker threads when asked.
export { generate, generateStream, sample, guidedSample, guidedSampleStream, argsSample, bestOfN, extractPrefixFeatures, trainPartialRM, trainValueHead } from './parallel/dispatch.js';
export { type ArgsSampleOptions, type BestOfNOptions, type BestOfNResult } from './decode/baselines.js';
export { afinnJudge, endingJudge, vaderJudge, rewardModelJudge, builtinJudge, type Judge } from './eval/judges.js';
export { meanWithStderr, winRate, diversity, distinctN, words, type MeanWithError, type WinRate } from './eval/metrics.js';
export { responseLogProbs, perplexity, klFromTrace } from './eval/lm-scores.js';
export { runDemo, type DemoResult, type MethodResult } from './demo/pipeline.js';
export { DEMO_CONFIGS, type DemoConfig } from './demo/config.js';
export { bundledModelPath, bundledDataPath, type BundledModel, type BundledData } from './bundled.js';
export { progressReporter, type ProgressReporterOptions, type ProgressSink, type ProgressCallback } from './progress/reporter.js';
export { formatProgress, formatDuration, type ProgressState } from './progress/format.js';
