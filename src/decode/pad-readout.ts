/**
 * transformers reads a sequence-classification reward at the last token that is not `pad_token_id`.
 * Guided decoding reads each candidate's own hidden state, so for an HF reward model with a pad id a
 * candidate equal to it (often EOS) must instead get the reward of the sequence before it — the reward
 * at the row's last non-pad token, which this tracks per row.
 */
import type { RewardModel } from '../reward/reward-model-interface.js';

export class PadReadout {
  private constructor(
    private readonly padId: number,
    /** Per original row: the reward read at its last non-pad token so far. */
    private readonly last: number[],
  ) {}

  /** Undefined when the reward model reads every sequence at its last token (no pad rule). */
  static async start(rm: RewardModel, prompts: readonly (readonly number[])[]): Promise<PadReadout | undefined> {
    const padId = rm.padTokenId ?? null;
    if (padId === null) return undefined;
    // The prompts' own rewards, by the same rule (a prompt may itself end in pad tokens).
    const last = await rm.scoreIdsBatch(prompts.map((p) => ({ promptIds: p, responseIds: [] })));
    return new PadReadout(padId, last);
  }

  /** Gives candidates equal to the pad id the reward of the sequence without them (in place). */
  adjust(row: number, candidates: readonly number[], rewards: Float32Array): void {
    candidates.forEach((v, i) => {
      if (v === this.padId) rewards[i] = this.last[row];
    });
  }

  /** Records the chosen token: a non-pad token becomes the row's new read-out position. */
  chosen(row: number, tokenId: number, reward: number): void {
    if (tokenId !== this.padId) this.last[row] = reward;
  }
}
