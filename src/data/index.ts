/** Preference data: load comparisons (TRL, HH-RLHF, summarize-from-feedback), encode them, split them. */
export { loadPreferences, type LoadPreferencesOptions } from './load.js';
export { encodePreferences, type EncodePreferencesOptions, type EncodedPreferences } from './encode.js';
export { splitPairs, type SplitOptions, type Split } from './split.js';
export { formatDropReport, mergeDropReports, type FormatDropReportOptions } from './drop-report.js';
export { tldrPrompt } from './format-summarize.js';
export {
  DROP_REASONS,
  type DropReason,
  type DropReport,
  type DroppedRow,
  type Conversation,
  type EncodedPair,
  type PreferenceFormat,
  type PreferencePair,
  type PreferenceSet,
  type RowSource,
} from './types.js';
