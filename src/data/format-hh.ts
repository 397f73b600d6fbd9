/**
 * Anthropic HH-RLHF rows: `{chosen, rejected}`, each a whole dialogue
 * ("\n\nHuman: …\n\nAssistant: …"). The prompt is the dialogue both share up to and including an
 * "\n\nAssistant:" marker; the responses are whatever follows it, kept byte for byte (HH responses start
 * with a space, which belongs to the response's first token).
 */
import { type ParsedRow, type Row, reject, requireString } from './fields.js';

export const ASSISTANT_MARKER = '\n\nAssistant:';

function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

export function parseHhRow(row: Row): ParsedRow {
  const chosen = requireString(row, 'chosen');
  const rejected = requireString(row, 'rejected');
  for (const [side, text] of [['chosen', chosen], ['rejected', rejected]] as const) {
    if (!text.includes(ASSISTANT_MARKER)) {
      reject('no-assistant-turn', `"${side}" has no "\\n\\nAssistant:" turn; HH-RLHF rows are whole dialogues ending in an assistant reply`);
    }
  }
  // The last marker that lies wholly inside the common prefix. In the usual row this is chosen's last
  // marker (rejected starts with the same dialogue); when the two already diverge earlier (a few HH rows
  // have extra turns inside one response), it falls back to the last turn they both share.
  const common = commonPrefixLength(chosen, rejected);
  const at = common < ASSISTANT_MARKER.length ? -1 : chosen.lastIndexOf(ASSISTANT_MARKER, common - ASSISTANT_MARKER.length);
  if (at < 0) {
    reject('no-shared-prompt', `"chosen" and "rejected" share no dialogue up to an "\\n\\nAssistant:" marker (they agree on the first ${common} characters only)`);
  }
  const end = at + ASSISTANT_MARKER.length;
  return { prompt: chosen.slice(0, end), chosen: chosen.slice(end), rejected: rejected.slice(end) };
}
