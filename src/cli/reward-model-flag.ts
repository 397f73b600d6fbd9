/** `--rm DIR [--model DIR]` for the commands that only read rewards (score, eval): any reward model folder. */
import type { BackendName } from '../engine/backend.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { loadCausalLM } from '../lm/load.js';
import { loadRewardModel } from '../reward/reward-model.js';
import type { RewardModel } from '../reward/reward-model-interface.js';

export interface LoadedRewardModel {
  rm: RewardModel;
  /** Frees the reward model and the backbone loaded for it. */
  dispose(): void;
}

/**
 * Loads `rmDir`: an HF sequence-classification folder carries its own backbone (`modelDir` is then
 * optional: given and of the same backbone weights, the RM runs on it); a pargs reward model needs the
 * backbone it was trained on in `modelDir`.
 */
export async function loadRewardModelFlags(rmDir: string, modelDir: string | undefined, backend?: BackendName | 'auto'): Promise<LoadedRewardModel> {
  const lm: CausalLM | undefined = modelDir ? await loadCausalLM(modelDir, { backend }) : undefined;
  try {
    const rm = await loadRewardModel(rmDir, lm, { backend });
    return {
      rm,
      dispose: () => {
        rm.dispose();
        lm?.dispose();
      },
    };
  } catch (err) {
    lm?.dispose();
    throw err;
  }
}
