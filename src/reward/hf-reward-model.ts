/**
 * Hugging Face causal sequence-classification reward models (`LlamaForSequenceClassification`,
 * `MistralForSequenceClassification`, `Qwen2ForSequenceClassification`, `GPT2ForSequenceClassification`,
 * `GPTNeoXForSequenceClassification`) in and out of pargs.
 *
 * Such a model is a backbone (weights under their usual `model.` / `transformer.` / `gpt_neox.` names) plus
 * `score.weight` [num_labels, d] without bias. With num_labels 1 it is a reward model: transformers reads
 * the reward at the last token that is not `pad_token_id` (every token when pad_token_id is unset), from
 * the hidden state after the final norm. Here it is a linear head (w = the score row, b = 0) on that
 * backbone with the same read-out, so every pargs operation (judges, ARGS, Best-of-N, guidance, score,
 * init of a partial RM) takes it as it takes a pargs reward model.
 */
import { copyFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, OptionError, SafetensorsError } from '../errors.js';
import { guardOutput } from '../io/fs-errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { claimOutputDir } from '../io/output-dir.js';
import { writeSafetensors } from '../io/safetensors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { sequenceClassificationArchitecture, type ModelType } from '../lm/config.js';
import { lmHeadNames } from '../lm/hf-names.js';
import { exportHfTensors } from '../lm/hf-weights.js';
import { LOAD_SCHEMA, loadModelFolder, readConfigJson, type LoadOptions } from '../lm/load.js';
import { causalLM } from '../lm/lm-specs.js';
import { checkArgument, checkOptions, required, string, type Schema } from '../options.js';
import { RewardHead } from './head.js';
import { PartialRewardModel } from './reward-model.js';

export const SCORE_WEIGHT = 'score.weight';

const ARCHITECTURE: Record<ModelType, string> = {
  llama: 'LlamaForSequenceClassification',
  mistral: 'MistralForSequenceClassification',
  qwen2: 'Qwen2ForSequenceClassification',
  gpt2: 'GPT2ForSequenceClassification',
  gpt_neox: 'GPTNeoXForSequenceClassification',
};

/** Tokenizer files copied into an exported folder when the backbone's folder has them. */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'tokenizer.model', 'chat_template.jinja'];

export class HFRewardModel extends PartialRewardModel {
  constructor(
    backbone: CausalLM,
    head: RewardHead,
    /** The config's sequence-classification architecture, e.g. 'LlamaForSequenceClassification'. */
    readonly architecture: string,
    /** transformers' read-out: the reward sits at the last token that is not this id (null: the last token). */
    readonly padTokenId: number | null,
    /** The folder loaded. */
    readonly source: string,
    /** True when the backbone was loaded for this model (and is disposed with it); false when it is the LM's. */
    private readonly ownsBackbone: boolean,
  ) {
    super(backbone, head, 'full');
  }

  override get format(): 'pargs' | 'hf' {
    return 'hf';
  }

  /** transformers' rule: the rightmost token ≠ pad_token_id, index 0 when every token is the pad token. */
  protected override readIndex(ids: readonly number[], end: number): number {
    if (this.padTokenId === null) return end;
    for (let i = end; i >= 0; i--) if (ids[i] !== this.padTokenId) return i;
    return 0;
  }

  /**
   * A pargs-format save records the backbone by fingerprint, and loading it needs that backbone as a
   * causal LM: possible when this model runs on an LM (shared backbone), not on its own HF backbone.
   */
  override async save(dir: string, options: { overwrite?: boolean; format?: 'pargs' | 'hf' } = {}): Promise<void> {
    this.assertLive('save');
    if (options?.format !== 'hf' && this.ownsBackbone) {
      throw new OptionError(`save: the reward model from "${this.source}" runs its own Hugging Face backbone, which a pargs reward model folder cannot name; save it with { format: 'hf' }, or load it on a causal LM with the same backbone weights first (loadRewardModel(dir, lm))`);
    }
    return super.save(dir, options);
  }

  override dispose(): void {
    super.dispose();
    if (this.ownsBackbone) this.backbone.dispose();
  }
}

/** num_labels as transformers derives it: the key, else the size of id2label, else the class default 2. */
function numLabels(raw: Record<string, unknown>): { value: unknown; field: string } {
  if (raw.num_labels !== undefined) return { value: raw.num_labels, field: 'num_labels' };
  if (raw.id2label && typeof raw.id2label === 'object') return { value: Object.keys(raw.id2label).length, field: 'id2label' };
  return { value: 2, field: 'num_labels (absent: transformers defaults to 2)' };
}

export interface LoadHFRewardModelOptions extends LoadOptions {
  /** Run on this backbone instead when it has the same backbone weights (its cache is then shared). */
  backbone?: CausalLM;
}

export const LOAD_HF_REWARD_MODEL_SCHEMA: Schema = { ...LOAD_SCHEMA, backbone: causalLM() };

/** Loads a Hugging Face sequence-classification folder with num_labels 1 as a reward model. */
export async function loadHFRewardModel(dir: string, options: LoadHFRewardModelOptions = {}): Promise<HFRewardModel> {
  checkArgument('loadHFRewardModel', 'dir', dir, required(string()));
  checkOptions('loadHFRewardModel', options, LOAD_HF_REWARD_MODEL_SCHEMA);
  const { path, raw } = await readConfigJson(dir);
  const architecture = sequenceClassificationArchitecture(raw);
  if (!architecture) {
    throw new ConfigError(`${path} "architectures" is ${JSON.stringify((raw as Record<string, unknown>)?.architectures)}: not a sequence-classification reward model (expected one of ${Object.values(ARCHITECTURE).join(', ')}), and "${dir}" has no reward_model.json either`);
  }
  const labels = numLabels(raw as Record<string, unknown>);
  if (labels.value !== 1) {
    throw new ConfigError(`${path} "${labels.field}" gives ${JSON.stringify(labels.value)} labels: pargs reads a reward model, which has exactly one (num_labels: 1); a classifier with several labels has no single reward`);
  }
  const { lm, extra } = await loadModelFolder(dir, { backend: options.backend }, [SCORE_WEIGHT]);
  let owned: CausalLM | undefined = lm;
  try {
    const d = lm.config.hiddenSize;
    const score = extra.get(SCORE_WEIGHT);
    if (!score) throw new SafetensorsError(`model folder "${dir}": no tensor "${SCORE_WEIGHT}" (the reward head, [num_labels, hidden size] = [1, ${d}]) in its safetensors`);
    if (score.shape.length !== 2 || score.shape[0] !== 1 || score.shape[1] !== d) {
      throw new SafetensorsError(`model folder "${dir}": tensor "${SCORE_WEIGHT}" has shape [${score.shape}], but ${path} implies [1, ${d}] (num_labels 1, hidden size ${d})`);
    }
    // nn.Linear stores [out, in] = [1, d]; the pargs head is [d, 1]: the same numbers.
    const head = RewardHead.fromHost({ kind: 'linear' }, d, [
      { name: 'weight', shape: [d, 1], data: score.data },
      { name: 'bias', shape: [1], data: new Float32Array(1) },
    ]);
    const shared = options.backbone?.backboneFingerprint === lm.backboneFingerprint && options.backbone.tokenizer.fingerprint === lm.tokenizer.fingerprint ? options.backbone : undefined;
    const backbone = shared ?? lm;
    if (shared) lm.dispose();
    owned = undefined;
    return new HFRewardModel(backbone, head, architecture, lm.config.padTokenId, dir, !shared);
  } finally {
    owned?.dispose();
  }
}

/**
 * Writes a linear-head reward model as a Hugging Face `*ForSequenceClassification` folder: config.json
 * (architectures, num_labels 1, pad_token_id), model.safetensors (backbone weights + score.weight [1, d])
 * and the backbone's tokenizer files. `dir` is claimed like every pargs output (new, empty or our own
 * earlier export; replaced only with `overwrite`).
 */
export async function saveHFRewardModel(rm: PartialRewardModel, dir: string, options: { overwrite?: boolean } = {}): Promise<void> {
  if (rm.head.spec.kind !== 'linear') {
    throw new OptionError(`save({ format: 'hf' }): the reward model has a ${rm.head.spec.kind} head${rm.head.spec.kind === 'mlp' ? ` (hidden ${rm.head.spec.hidden})` : ''}, which has no Hugging Face *ForSequenceClassification form (that is one linear layer, score.weight); train with head: { kind: 'linear' } (--head linear) to export`);
  }
  const host = new Map((await rm.head.toHost()).map((p) => [p.name, p]));
  const bias = (host.get('bias')?.data ?? new Float32Array(1))[0];
  // Bradley–Terry losses see only reward differences, so a trained head's bias keeps its initial 0.
  if (bias !== 0) {
    throw new OptionError(`save({ format: 'hf' }): the head's bias is ${bias}, and score has no bias in transformers; rewards would shift by ${bias}. Export a head with bias 0 (pargs training leaves it at 0)`);
  }
  const backbone = rm.backbone;
  const c = backbone.config;
  if (!backbone.source) throw new OptionError("save({ format: 'hf' }): the backbone was not loaded from a folder, so there are no tokenizer files to export with it");
  const claimed = await claimOutputDir(dir, { kind: 'hf-reward-model', what: "save({ format: 'hf' })", overwrite: options.overwrite, protect: [backbone.source] });
  try {
    const { architectures: _a, num_labels: _n, id2label: _i, label2id: _l, ...rest } = c.raw;
    const config = {
      ...rest,
      architectures: [ARCHITECTURE[c.modelType]],
      num_labels: 1,
      id2label: { 0: 'LABEL_0' },
      label2id: { LABEL_0: 0 },
      pad_token_id: c.padTokenId ?? backbone.padId,
    };
    const tensors = (await exportHfTensors(c, backbone.params)).filter((t) => !lmHeadNames(c).includes(t.name));
    tensors.push({ name: SCORE_WEIGHT, shape: [1, c.hiddenSize], data: (host.get('weight') as { data: Float32Array }).data });
    await guardOutput(claimed.dir, async () => {
      await writeFileAtomic(join(claimed.dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
      await writeSafetensors(join(claimed.dir, 'model.safetensors'), tensors.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: t.data })));
      for (const file of TOKENIZER_FILES) {
        const from = join(backbone.source, file);
        if (await stat(from).then(() => true, () => false)) await copyFile(from, join(claimed.dir, file));
      }
    });
    await claimed.markComplete();
  } finally {
    await claimed.release();
  }
}
