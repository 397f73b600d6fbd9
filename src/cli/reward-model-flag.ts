/** `--rm DIR [--model DIR]` for the commands that only read rewards (score, eval): any reward model folder. */
import type { BackendName } from '../engine/backend.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { refuseBeyondContext } from '../lm/context.js';
import { loadCausalLM } from '../lm/load.js';
import { loadRewardModel } from '../reward/reward-model.js';
import { rmSource, type RewardModel, type ScoreItem } from '../reward/reward-model-interface.js';

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

/**
 * The ids of (prompt, response) rows for `rm`, refusing before any scoring every row past its context —
 * the check scoring makes (lm/context.ts), worded with the rows of the user's file.
 */
export function encodeRowsWithinContext(command: string, rm: RewardModel, rows: readonly { prompt: string; response: string }[], file?: string): ScoreItem[] {
  const items = rows.map((r) => rm.encode(r.prompt, r.response));
  const lengths = items.map((it) => it.promptIds.length + it.responseIds.length);
  const context = rm.backbone.config.maxPositions;
  refuseBeyondContext(lengths, context, (over, longest) => {
    const what = rows.length === 1
      ? `the prompt + response are ${lengths[0]} tokens,`
      : `${over.length} of ${rows.length} rows${file ? ` of ${file}` : ''} are (first: row ${over[0] + 1}, longest: row ${longest + 1} with ${lengths[longest]} tokens)`;
    return `pargs ${command}: ${what} longer than the context of the reward model${rmSource(rm)} (${context} tokens); a reward read past it is not meaningful: shorten them, or use a reward model with a longer context`;
  });
  return items;
}
