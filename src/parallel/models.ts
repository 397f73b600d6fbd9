/**
 * The models a worker runs: loaded from the folders the main thread's models came from, checked
 * against their fingerprints (a folder changed on disk since is refused), plus the reward head rebuilt
 * from the weights the main thread sent.
 */
import { CheckpointError } from '../errors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { loadCausalLM } from '../lm/load.js';
import { RewardHead } from '../reward/head.js';
import type { PartialRewardModel } from '../reward/reward-model.js';
import type { RewardMode } from '../reward/prefixes.js';
import type { HeadPayload, ModelRef, WorkerInit } from './protocol.js';

export interface WorkerModels {
  lm: CausalLM;
  /** The reward model's backbone: `lm` itself unless the init named another model. */
  scorer: CausalLM;
  head?: RewardHead;
  mode?: RewardMode;
}

/** Float32 bytes of a model's weights: what one more copy in a worker costs. */
export function weightBytes(lm: CausalLM): number {
  return lm.parameterCount * 4;
}

/** What a worker needs to rebuild `rewardModel`: its backbone's folder (unless it is `lm`) and its head's weights. */
export async function rewardModelInit(lm: CausalLM, rewardModel: PartialRewardModel): Promise<Pick<WorkerInit, 'scorer' | 'head'>> {
  const scorer = rewardModel.backbone === lm ? undefined : { dir: rewardModel.backbone.source, fingerprint: rewardModel.backbone.fingerprint };
  const head: HeadPayload = { spec: rewardModel.head.spec, inputDim: rewardModel.head.inputDim, mode: rewardModel.mode, params: await rewardModel.head.toHost() };
  return { scorer, head };
}

async function loadChecked(ref: ModelRef, init: WorkerInit): Promise<CausalLM> {
  const lm = await loadCausalLM(ref.dir, { backend: init.backend });
  if (lm.fingerprint !== ref.fingerprint) {
    lm.dispose();
    throw new CheckpointError(`the model folder "${ref.dir}" changed on disk after it was loaded (its weights no longer match); load it again before running on workers`);
  }
  return lm;
}

export async function loadWorkerModels(init: WorkerInit): Promise<WorkerModels> {
  const lm = await loadChecked(init.lm, init);
  const scorer = init.scorer ? await loadChecked(init.scorer, init) : lm;
  const head = init.head ? RewardHead.fromHost(init.head.spec, init.head.inputDim, init.head.params) : undefined;
  return { lm, scorer, head, mode: init.head?.mode };
}
