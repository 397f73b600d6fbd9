/**
 * Shapes shared by the preference-data modules: a comparison as text, the same comparison in token-id
 * space, and the report of every row that was not kept (pargs never drops data silently).
 */

import type { ChatMessage } from '../lm/chat-template.js';

/** The on-disk layouts pargs reads; see `loadPreferences` for each one's fields. */
export type PreferenceFormat = 'trl' | 'hh' | 'summarize';

/** Where a pair came from: `index` is its 0-based row number, `line` its 1-based file line (JSONL only). */
export interface RowSource {
  line?: number;
  index: number;
}

/**
 * A conversational comparison kept as messages, so that encoding can render it with the model's chat
 * template: the shared turns, then each side's reply turns (the first and last of them the assistant's).
 */
export interface Conversation {
  prompt: ChatMessage[];
  chosen: ChatMessage[];
  rejected: ChatMessage[];
}

/**
 * One comparison: `chosen` was preferred over `rejected` as a continuation of `prompt`. For a
 * conversational row the three texts are its HH transcript, used when the tokenizer has no chat template.
 */
export interface PreferencePair {
  prompt: string;
  chosen: string;
  rejected: string;
  source: RowSource;
  /** Present for conversational rows (TRL conversational, UltraFeedback-binarized). */
  conversation?: Conversation;
  /** TRL's `margin` column: the reward gap this pair asks for, −log σ(Δ − margin). */
  margin?: number;
  /** UltraFeedback's `score_chosen` / `score_rejected`, kept as metadata (not used by the loss). */
  scores?: { chosen?: number; rejected?: number };
}

/** A comparison in token-id space; `promptIds ⊕ chosenIds` is exactly what the reward model reads. */
export interface EncodedPair {
  promptIds: number[];
  chosenIds: number[];
  rejectedIds: number[];
  source: RowSource;
  /** The row's `margin`, when it has one. */
  margin?: number;
}

/** Why a row was not kept. Each reason has a human label in drop-report.ts. */
export const DROP_REASONS = [
  'malformed-json',
  'not-an-object',
  'other-format',
  'missing-field',
  'wrong-type',
  'invalid-value',
  'unsupported-conversation',
  'no-assistant-turn',
  'no-shared-prompt',
  'empty-response',
  'identical-responses',
  'too-long',
  'identical-after-tokenization',
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export interface DroppedRow extends RowSource {
  reason: DropReason;
  /** What exactly was wrong, naming the field or the numbers involved. */
  detail: string;
}

export interface DropReport {
  /** Rows read (blank JSONL lines are not rows). */
  total: number;
  kept: number;
  dropped: DroppedRow[];
  /** Every reason is present, zero when unused, so callers can read any count without a guard. */
  counts: Record<DropReason, number>;
}

export interface PreferenceSet {
  pairs: PreferencePair[];
  report: DropReport;
  /** The format the rows were read as (detected when `format: 'auto'`). */
  format: PreferenceFormat;
}
