/**
 * Building, merging and printing drop reports. Counts are derived from the dropped list in one place so
 * the two can never disagree.
 */
import { checkArgument, checkOptions, custom, integer, object, plainObject, required } from '../options.js';
import { DROP_REASONS, type DropReason, type DropReport, type DroppedRow } from './types.js';

const LABELS: Record<DropReason, string> = {
  'malformed-json': 'malformed JSON',
  'not-an-object': 'not an object',
  'other-format': 'other format',
  'missing-field': 'missing field',
  'wrong-type': 'wrong type',
  'invalid-value': 'invalid value',
  'unsupported-conversation': 'unsupported conversation',
  'no-assistant-turn': 'no assistant turn',
  'no-shared-prompt': 'no shared prompt',
  'empty-response': 'empty response',
  'identical-responses': 'identical',
  'too-long': 'too long',
  'identical-after-tokenization': 'identical after tokenization',
};

export function emptyCounts(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
}

/** A report for `total` rows of which `dropped` were removed (the rest kept). */
export function makeDropReport(total: number, dropped: DroppedRow[]): DropReport {
  const counts = emptyCounts();
  for (const d of dropped) counts[d.reason]++;
  return { total, kept: total - dropped.length, dropped, counts };
}

/**
 * A later stage's report on top of an earlier one: the later stage saw only the earlier stage's kept
 * rows, so the total stays the earlier total and the drops add up.
 */
export function mergeDropReports(earlier: DropReport, later: DropReport): DropReport {
  checkArgument('mergeDropReports', 'earlier', earlier, required(DROP_REPORT));
  checkArgument('mergeDropReports', 'later', later, required(DROP_REPORT));
  const dropped = [...earlier.dropped, ...later.dropped].sort((a, b) => a.index - b.index);
  return makeDropReport(earlier.total, dropped);
}

const num = (n: number): string => n.toLocaleString('en-US');

/** Where a row is, for messages: its file line when known, else its row index. */
export function rowLabel(row: { line?: number; index: number }): string {
  return row.line !== undefined ? `line ${row.line}` : `row ${row.index}`;
}

export interface FormatDropReportOptions {
  /** Also list the first `examples` dropped rows with their details (default 0). */
  examples?: number;
}

const DROP_REPORT = object({ total: required(integer({ min: 0 })), kept: required(integer({ min: 0 })), dropped: required(custom('an array', Array.isArray, ['x', 1])), counts: required(plainObject()) }, 'a DropReport', true);

/** "kept 2,290 of 2,312 rows; dropped 22: 14 empty response, 8 identical", most frequent reason first. */
export function formatDropReport(report: DropReport, options: FormatDropReportOptions = {}): string {
  checkArgument('formatDropReport', 'report', report, required(DROP_REPORT));
  checkOptions('formatDropReport', options, { examples: integer({ min: 0 }) });
  const head = `kept ${num(report.kept)} of ${num(report.total)} rows`;
  if (report.dropped.length === 0) return `${head}; dropped none`;
  const parts = DROP_REASONS.filter((r) => report.counts[r] > 0)
    .sort((a, b) => report.counts[b] - report.counts[a])
    .map((r) => `${num(report.counts[r])} ${LABELS[r]}`);
  const lines = [`${head}; dropped ${num(report.dropped.length)}: ${parts.join(', ')}`];
  const examples = Math.max(0, Math.floor(options.examples ?? 0));
  for (const d of report.dropped.slice(0, examples)) lines.push(`  ${rowLabel(d)}: ${LABELS[d.reason]} — ${d.detail}`);
  if (examples > 0 && report.dropped.length > examples) lines.push(`  … and ${num(report.dropped.length - examples)} more`);
  return lines.join('\n');
}
