/**
 * The demo's tasks: which gold judge labels the preference pairs and scores the generations.
 * - 'sentiment' (default): AFINN valence per word of the whole response. Word-additive, so the
 *   "prefixes of a preferred response are preferred" assumption of PARGS holds almost by construction.
 * - 'ending': AFINN valence per word of the response's last 6 words only. Early words do not count,
 *   so a prefix's sentiment is a weak guide to the final score: the assumption is strained, and this is
 *   where PARGS is tested rather than favoured.
 */
import { afinnJudge, endingJudge, type Judge } from '../eval/judges.js';

export const DEMO_TASKS = ['sentiment', 'ending'] as const;
export type DemoTask = (typeof DEMO_TASKS)[number];

export const ENDING_WORDS = 6;

export interface TaskSpec {
  judge: () => Judge;
  /** Column header of the gold score. */
  goldLabel: string;
  /** Axis label of the gold score in the report's plots. */
  goldUnit: string;
  /** One sentence for the report: what the gold judge rewards. */
  description: string;
}

export const TASKS: Record<DemoTask, TaskSpec> = {
  sentiment: {
    judge: () => afinnJudge(),
    goldLabel: 'AFINN (gold)',
    goldUnit: 'AFINN valence per word',
    description: 'steer continuations of held-out State of the Union sentence openings towards positive sentiment, with the AFINN lexicon (valence per word of the whole response) as the gold judge',
  },
  ending: {
    judge: () => endingJudge({ words: ENDING_WORDS }),
    goldLabel: `AFINN of last ${ENDING_WORDS} words (gold)`,
    goldUnit: `AFINN valence per word, last ${ENDING_WORDS} words`,
    description: `steer continuations of held-out State of the Union sentence openings towards a positive ending: the gold judge is the AFINN valence per word of the response's last ${ENDING_WORDS} words only, not a sum over the whole response`,
  },
};
