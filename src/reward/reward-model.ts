/**
 * A partial-sequence reward model: a frozen backbone plus a trained head. `scorePrefixes` gives the
 * reward after every response token from one backbone pass; `rewardsFromHidden` is what guided decoding
 * calls on the hidden states of its candidate tokens.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import type { tf } from '../engine/tf.js';
import { CheckpointError, DisposedError, OptionError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { guardOutput } from '../io/fs-errors.js';
import { claimOutputDir } from '../io/output-dir.js';
import { SafetensorsFile, writeSafetensors } from '../io/safetensors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { LOAD_SCHEMA, loadCausalLM, type LoadOptions } from '../lm/load.js';
import { positiveInt } from '../option-specs.js';
import { causalLM } from '../lm/lm-specs.js';
import { arrayOf, boolean, checkArgument, checkOptions, object, oneOf, required, string, tokenIds } from '../options.js';
import type { PargsTokenizer } from '../lm/tokenizer.js';
import { rmSource, type RewardModel } from './reward-model-interface.js';
import { RewardHead, validateHeadSpec, type HeadSpec } from './head.js';
import type { RewardMode } from './prefixes.js';
import type { TrainingHistory } from './diagnostics.js';
import { loadWithTrainedBlocks, writeTrainedBlocks } from './trained-blocks-file.js';
import { prefixRewards, lastRewards, type Scorer } from './scoring.js';
import { checkVocabHead } from './vocab-head.js';

export const REWARD_MODEL_FILE = 'reward_model.json';
export const HEAD_FILE = 'head.safetensors';
export const BLOCKS_FILE = 'blocks.safetensors';

export interface RewardModelManifest {
  format: 'pargs-reward-model';
  version: 1;
  mode: RewardMode;
  head: HeadSpec;
  inputDim: number;
  /** SHA-256 of head.safetensors: a corrupted head file is refused. */
  headSha256: string;
  /**
   * The backbone by content (`fingerprint`, checked at load) and by a portable name: the folder's base
   * name and its path relative to the reward-model folder — never this machine's absolute path.
   * (Earlier manifests carry `source`, the path as given instead; it is read for messages only.)
   */
  backbone: { fingerprint: string; tokenizerFingerprint: string; modelType: string; hiddenSize: number; name: string; relativePath?: string; source?: string };
  /** What trainPartialRM recorded (absent for a head built by hand). */
  training?: Partial<RewardModelTraining>;
  /**
   * Trained top blocks (`trainable: top-blocks`): layers ≥ `from` and the final norm in blocks.safetensors
   * (SHA-256 `sha256`), on a backbone whose embeddings and layers < from have `lowerFingerprint`.
   */
  trainedBlocks?: { from: number; sha256: string; lowerFingerprint: string };
}

/** A reward model's trained top blocks: layers ≥ `from` are its own, the rest are `base`'s (the same tensors). */
export interface TrainedBlocks {
  readonly from: number;
  readonly base: CausalLM;
}

/** What `trainPartialRM` records on the model it returns (and in the manifest): `rm.training`. */
export interface RewardModelTraining {
  /** The resolved training options (mode, prefix, head, epochs, batchSize, lr, seed, …). */
  options: Record<string, unknown>;
  /** Optimizer steps of the whole run. */
  steps: number;
  /** Training pairs the head was fitted on. */
  pairs: number;
  /** The backbone feature pass over the training pairs (absent when no training is recorded). */
  featurePass?: { sequences: number; tokens: number; paddedTokens: number; seconds: number };
  /** Loss and accuracy per step, held-out diagnostics per evaluation. */
  history: TrainingHistory;
  /** What the head was fitted to when it is not a Bradley–Terry reward model (e.g. 'value-mse': a CD value head). */
  objective?: string;
  /** The regression target of such a head, in words. */
  target?: string;
  /** A regression head's mean squared error before and after training. */
  mse?: { initial: number; final: number };
}

/** The record of a model with no training behind it (built by hand, or an old manifest without one). */
function emptyTraining(): RewardModelTraining {
  return { options: {}, steps: 0, pairs: 0, history: { steps: [], evals: [] } };
}

/** Reward models whose backbone `loadRewardModel` loaded itself from a folder: `dispose` frees it too. */
const ownedBackbones = new WeakSet<PartialRewardModel>();

export class PartialRewardModel implements RewardModel {
  private disposed = false;

  constructor(
    readonly backbone: CausalLM,
    readonly head: RewardHead,
    /** 'partial': trained on prefixes (PARGS); 'full': an ordinary full-sequence reward model (ARGS). */
    readonly mode: RewardMode,
    readonly training: RewardModelTraining = emptyTraining(),
    /**
     * Set when the top blocks were trained: `backbone` is then a BranchedLM sharing `base`'s embeddings
     * and layers < from (same tensors) with its own layers ≥ from and final norm; decoding with `base`
     * as the LM takes the partially fused path (decode/partial-fuse.ts).
     */
    readonly trainedBlocks?: TrainedBlocks,
  ) {
    backbone.assertLive('PartialRewardModel');
    head.assertLive('PartialRewardModel');
    if (head.inputDim !== backbone.config.hiddenSize) {
      throw new OptionError(`reward head expects features of size ${head.inputDim}, the backbone produces ${backbone.config.hiddenSize}`);
    }
    checkVocabHead(head, backbone);
  }

  get format(): 'pargs' | 'hf' {
    return 'pargs';
  }

  get tokenizer(): PargsTokenizer {
    return this.backbone.tokenizer;
  }

  get headSpec(): HeadSpec {
    return this.head.spec;
  }

  /** True after `dispose()`: the head (and whatever the model owned) is freed. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Throws a DisposedError naming `fn` when this model was disposed, or the backbone it runs on was
   * (a reward model sharing the LM's backbone lives only as long as that LM).
   */
  protected assertLive(fn: string): void {
    if (this.disposed || this.head.isDisposed) {
      throw new DisposedError(`${fn}: this reward model${rmSource(this)} was disposed; load it again (loadRewardModel), and call dispose() only after its last use`);
    }
    this.backbone.assertLive(`${fn} (the reward model's backbone)`);
  }

  /**
   * Where the reward of the sequence `ids[0 … end]` is read: its last token here; an HF sequence-
   * classification model reads the last token that is not its pad token (hf-reward-model.ts).
   */
  protected readIndex(_ids: readonly number[], end: number): number {
    return end;
  }

  /** Rewards of final hidden states [N, d] → [N] (the caller disposes the result). */
  rewardsFromHidden(hidden: tf.Tensor2D): tf.Tensor1D {
    this.assertLive('rewardsFromHidden');
    return this.head.apply(hidden);
  }

  /** Token ids of `prompt ⊕ response`: each encoded separately, prompt with the tokenizer's BOS rule. */
  encode(prompt: string, response: string): { promptIds: number[]; responseIds: number[] } {
    this.assertLive('encode');
    const tok = this.backbone.tokenizer;
    return { promptIds: tok.encode(prompt), responseIds: tok.encode(response, { addSpecialTokens: false }) };
  }

  /** The reward after every response token (index i = prefix of i + 1 tokens), from one backbone pass. */
  async scorePrefixIds(promptIds: readonly number[], responseIds: readonly number[]): Promise<number[]> {
    this.assertLive('scorePrefixIds');
    checkArgument('scorePrefixIds', 'promptIds', promptIds, required(tokenIds()));
    checkArgument('scorePrefixIds', 'responseIds', responseIds, required(tokenIds()));
    return prefixRewards(this.scorer(), 'scorePrefixIds', promptIds, responseIds);
  }

  /**
   * Complete-response rewards of many (prompt, response) id pairs, batched: one left-padded forward per
   * `rowsPerBatch` sequences, reading the hidden state at each sequence's last token.
   */
  async scoreIdsBatch(items: readonly { promptIds: readonly number[]; responseIds: readonly number[] }[], rowsPerBatch = 16): Promise<number[]> {
    this.assertLive('scoreIdsBatch');
    checkArgument('scoreIdsBatch', 'items', items, required(arrayOf(object({ promptIds: required(tokenIds()), responseIds: required(tokenIds()) }, 'an item', true), 'an array of { promptIds, responseIds }')));
    checkArgument('scoreIdsBatch', 'rowsPerBatch', rowsPerBatch, positiveInt());
    return lastRewards(this.scorer(), 'scoreIdsBatch', items, rowsPerBatch);
  }

  async scorePrefixes(prompt: string, response: string): Promise<number[]> {
    this.assertLive('scorePrefixes');
    checkArgument('scorePrefixes', 'prompt', prompt, required(string()));
    checkArgument('scorePrefixes', 'response', response, required(string()));
    const { promptIds, responseIds } = this.encode(prompt, response);
    return prefixRewards(this.scorer(), 'scorePrefixes', promptIds, responseIds);
  }

  /** The reward of the complete response (its last token). */
  async score(prompt: string, response: string): Promise<number> {
    this.assertLive('score');
    checkArgument('score', 'prompt', prompt, required(string()));
    checkArgument('score', 'response', response, required(string()));
    const { promptIds, responseIds } = this.encode(prompt, response);
    const rewards = await prefixRewards(this.scorer(), 'score', promptIds, responseIds);
    if (rewards.length === 0) throw new OptionError('score: the response encodes to no tokens');
    return rewards[rewards.length - 1];
  }

  /** This model as scoring.ts reads it. */
  private scorer(): Scorer {
    return { backbone: this.backbone, head: this.head, readIndex: (ids, end) => this.readIndex(ids, end), source: rmSource(this) };
  }

  /** The manifest for a model saved in `dir` (the backbone's relative path is computed from it). */
  async manifest(headSha256: string, dir?: string): Promise<RewardModelManifest> {
    this.assertLive('manifest');
    const base = this.trainedBlocks?.base ?? this.backbone;
    const c = base.config;
    const backboneDir = resolve(base.source);
    const relativePath = dir === undefined ? undefined : relative(resolve(dir), backboneDir);
    return {
      format: 'pargs-reward-model',
      version: 1,
      mode: this.mode,
      head: this.head.spec,
      inputDim: this.head.inputDim,
      headSha256,
      backbone: { fingerprint: base.fingerprint, tokenizerFingerprint: base.tokenizer.fingerprint, modelType: c.modelType, hiddenSize: c.hiddenSize, name: basename(backboneDir), ...(relativePath !== undefined && !isAbsolute(relativePath) ? { relativePath } : {}) },
      training: this.training,
    };
  }

  /**
   * Writes reward_model.json + head.safetensors into `dir`, each file atomically. `dir` must be new,
   * empty or an earlier pargs reward model (replaced only with `overwrite: true`); see io/output-dir.ts.
   */
  async save(dir: string, options: { overwrite?: boolean; format?: 'pargs' | 'hf' } = {}): Promise<void> {
    checkArgument('save', 'dir', dir, required(string()));
    checkOptions('save', options, { overwrite: boolean(), format: oneOf('pargs', 'hf') });
    this.assertLive('save');
    if (options.format === 'hf') {
      // Imported here: hf-reward-model.ts extends this class, so a static import would be circular.
      const { saveHFRewardModel } = await import('./hf-reward-model.js');
      return saveHFRewardModel(this, dir, { overwrite: options.overwrite });
    }
    const claimed = await claimOutputDir(dir, { kind: 'reward-model', what: 'save', overwrite: options.overwrite, protect: [this.backbone.source] });
    try {
      await writeRewardModelFiles(this, claimed.dir);
      await claimed.markComplete();
    } finally {
      await claimed.release();
    }
  }

  /** Frees the head and trained blocks (and the base backbone, when `loadRewardModel` loaded it from a folder). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.head.dispose();
    if (this.trainedBlocks) this.backbone.dispose();
    if (ownedBackbones.has(this)) (this.trainedBlocks?.base ?? this.backbone).dispose();
  }
}

/**
 * Writes the head and manifest into an existing folder (save, training checkpoints, the final model of
 * a training run), each file atomically. The manifest carries the head's sha256, so a crash between
 * the two renames leaves a pair that `loadRewardModel` refuses rather than a silently mixed model.
 */
export async function writeRewardModelFiles(rm: PartialRewardModel, dir: string): Promise<void> {
  const params = await rm.head.toHost();
  const headPath = join(dir, HEAD_FILE);
  await guardOutput(dir, async () => {
    await writeSafetensors(headPath, params.map((p) => ({ name: p.name, dtype: 'F32' as const, shape: p.shape, data: p.data })));
    const sha = createHash('sha256').update(await readFile(headPath)).digest('hex');
    const manifest = await rm.manifest(sha, dir);
    if (rm.trainedBlocks) manifest.trainedBlocks = await writeTrainedBlocks(rm, rm.trainedBlocks, dir);
    await writeFileAtomic(join(dir, REWARD_MODEL_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  });
}

/**
 * Loads a reward model from `dir`: a pargs reward model (saved by `save`, or a training checkpoint) onto
 * `backbone`, which it needs — a loaded CausalLM, or the backbone's model folder (loaded here on
 * `backend`, and freed by the reward model's `dispose`); or a Hugging Face `*ForSequenceClassification`
 * folder, which carries its own backbone — it runs on `backbone` instead when that has the same backbone
 * weights (`backboneFingerprint`), so guidance shares the LM's cache.
 */
export async function loadRewardModel(dir: string, backbone?: CausalLM | string, options: LoadOptions = {}): Promise<PartialRewardModel> {
  checkArgument('loadRewardModel', 'dir', dir, required(string()));
  checkOptions('loadRewardModel', options, LOAD_SCHEMA);
  if (typeof backbone === 'string') {
    const lm = await loadCausalLM(backbone, options);
    try {
      const rm = await loadRewardModel(dir, lm);
      ownedBackbones.add(rm);
      return rm;
    } catch (err) {
      lm.dispose();
      throw err;
    }
  }
  checkArgument('loadRewardModel', 'backbone', backbone, causalLM());
  const manifestPath = join(dir, REWARD_MODEL_FILE);
  if (!(await exists(manifestPath))) {
    if (!(await exists(join(dir, 'config.json')))) {
      throw new CheckpointError(`${manifestPath} not found: "${dir}" is not a saved pargs reward model, nor a Hugging Face *ForSequenceClassification folder (no config.json)`);
    }
    const { loadHFRewardModel } = await import('./hf-reward-model.js');
    return loadHFRewardModel(dir, { ...options, backbone });
  }
  if (!backbone) {
    throw new OptionError(`"${dir}" is a pargs reward model: it needs its backbone — pass the CausalLM it was trained on (CLI: --model DIR)`);
  }
  let manifest: RewardModelManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as RewardModelManifest;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new CheckpointError(missing ? `${manifestPath} not found: "${dir}" is not a saved pargs reward model` : `${manifestPath} is corrupted: ${(err as Error).message}`);
  }
  if (manifest?.format !== 'pargs-reward-model' || manifest.version !== 1) {
    throw new CheckpointError(`${manifestPath} is not a pargs reward model manifest (format ${JSON.stringify(manifest?.format)}, version ${JSON.stringify(manifest?.version)})`);
  }
  if (manifest.trainedBlocks) return loadWithTrainedBlocks(dir, manifest, backbone);
  if (manifest.backbone?.fingerprint !== backbone.fingerprint) {
    throw new CheckpointError(
      `the reward model in "${dir}" was trained on backbone "${manifest.backbone?.name ?? manifest.backbone?.source}" (fingerprint ${String(manifest.backbone?.fingerprint).slice(0, 12)}…), ` +
        `but the given backbone "${backbone.source}" has fingerprint ${backbone.fingerprint.slice(0, 12)}…; load the backbone it was trained on`,
    );
  }
  const head = await readHead(dir, manifest, backbone);
  return new PartialRewardModel(backbone, head, manifest.mode, { ...emptyTraining(), ...manifest.training });
}

/** Reads and checks head.safetensors (checksum, spec, shapes, mode) against the manifest. */
export async function readHead(dir: string, manifest: RewardModelManifest, backbone: CausalLM): Promise<RewardHead> {
  const manifestPath = join(dir, REWARD_MODEL_FILE);
  const headPath = join(dir, HEAD_FILE);
  await verifyChecksum(headPath, manifest.headSha256);
  const spec = validateHeadSpec(manifest.head);
  if (spec.kind === 'vocab' && spec.vocabSize !== backbone.config.vocabSize) {
    throw new CheckpointError(`${manifestPath} describes a vocabulary reward head over ${spec.vocabSize} tokens, but the backbone "${backbone.source}" has ${backbone.config.vocabSize}; load it onto the backbone it was trained on`);
  }
  const file = await SafetensorsFile.open(headPath);
  try {
    const params = [];
    for (const name of file.names()) params.push({ name, shape: file.info(name).shape, data: await file.readF32(name) });
    if (manifest.mode !== 'partial' && manifest.mode !== 'full') throw new CheckpointError(`${manifestPath} has an unknown mode ${JSON.stringify(manifest.mode)}`);
    return RewardHead.fromHost(spec, manifest.inputDim, params);
  } finally {
    await file.close();
  }
}

/** Refuses a file whose SHA-256 is not the one the manifest recorded. */
export async function verifyChecksum(path: string, sha256: string): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    throw new CheckpointError(`${path} is missing`);
  }
  if (createHash('sha256').update(bytes).digest('hex') !== sha256) {
    throw new CheckpointError(`${path} does not match the checksum in ${REWARD_MODEL_FILE}: the file is corrupted or was replaced`);
  }
}

/** The reward model's own, untrained-at-load `training` record filled from the manifest. */
export function trainingFromManifest(manifest: RewardModelManifest): RewardModelTraining {
  return { ...emptyTraining(), ...manifest.training };
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);
