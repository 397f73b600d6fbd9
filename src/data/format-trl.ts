/**
 * TRL preference rows, in every form of TRL's dataset-format table, plus UltraFeedback-binarized:
 *
 *   standard explicit        {prompt: "…", chosen: "…", rejected: "…"}
 *   standard implicit        {chosen: "…", rejected: "…"}           the prompt is the shared start
 *   conversational explicit  {prompt: [msgs], chosen: [msgs], rejected: [msgs]}
 *   conversational implicit  {chosen: [msgs], rejected: [msgs]}     the prompt is the shared turns
 *   UltraFeedback-binarized  {prompt: "…", chosen: [msgs], rejected: [msgs], score_chosen?, score_rejected?}
 *
 * An optional `margin` column is kept per row for the Bradley–Terry loss. Conversational rows keep their
 * messages (rendered with the model's chat template at encode time) and also get an HH transcript
 * ("\n\nHuman: …\n\nAssistant:"), used when the tokenizer has no template.
 */
import { hhTranscript, type ChatMessage } from '../lm/chat-template.js';
import { type ParsedRow, type Row, isPlainObject, optionalNumber, optionalString, reject, requireField, requireString, typeName } from './fields.js';

const ROLES = new Set(['system', 'user', 'assistant']);

function toMessages(value: unknown, path: string): ChatMessage[] {
  if (!Array.isArray(value)) reject('wrong-type', `"${path}" must be a list of messages like the other conversation fields, got ${typeName(value)}`);
  if (value.length === 0) reject('unsupported-conversation', `"${path}" is an empty message list`);
  return value.map((m: unknown, i) => {
    const where = `${path}[${i}]`;
    if (!isPlainObject(m)) reject('unsupported-conversation', `"${where}" must be a {role, content} message, got ${typeName(m)}`);
    if (typeof m.role !== 'string' || !ROLES.has(m.role)) {
      reject('unsupported-conversation', `"${where}.role" must be "system", "user" or "assistant", got ${JSON.stringify(m.role)}`);
    }
    if (typeof m.content !== 'string') {
      reject('unsupported-conversation', `"${where}.content" must be a string (multi-part content is not supported), got ${typeName(m.content)}`);
    }
    return { role: m.role, content: m.content };
  });
}

const sameTurn = (a: ChatMessage, b: ChatMessage): boolean => a.role === b.role && a.content === b.content;

/** How many leading turns two conversations share: TRL's longest common prefix, at a turn boundary. */
export function sharedTurns(a: readonly ChatMessage[], b: readonly ChatMessage[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && sameTurn(a[i], b[i])) i++;
  return i;
}

const isSpace = (ch: string | undefined): boolean => ch !== undefined && /\s/.test(ch);

/**
 * Where the implicit prompt of two strings ends. TRL's rule is the longest common prefix, with a space
 * just before the cut given to the responses. pargs adds one rule: the cut never splits a word (a
 * maximal run of non-whitespace) of either response, so "A: Blue sky" / "A: Blueberry" splits after
 * "A:", not after "A: Blue". Whole words both responses start with stay in the prompt, as in TRL.
 */
export function implicitPromptEnd(chosen: string, rejected: string): number {
  const n = Math.min(chosen.length, rejected.length);
  let k = 0;
  while (k < n && chosen.charCodeAt(k) === rejected.charCodeAt(k)) k++;
  const continuesWord = (s: string): boolean => k < s.length && !isSpace(s[k]);
  if (k > 0 && !isSpace(chosen[k - 1]) && (continuesWord(chosen) || continuesWord(rejected))) {
    while (k > 0 && !isSpace(chosen[k - 1])) k--;
  }
  if (k > 0 && chosen[k - 1] === ' ') k--;
  return k;
}

function parseStandard(row: Row): ParsedRow {
  const chosen = requireString(row, 'chosen');
  const rejected = requireString(row, 'rejected');
  const prompt = optionalString(row, 'prompt');
  if (prompt !== undefined) return { prompt, chosen, rejected };
  const end = implicitPromptEnd(chosen, rejected);
  if (end === 0) {
    reject('no-shared-prompt', 'the row has no "prompt" and "chosen" and "rejected" share no leading words to take as the implicit prompt; add a "prompt" field');
  }
  return { prompt: chosen.slice(0, end), chosen: chosen.slice(end), rejected: rejected.slice(end) };
}

/** The prompt turns and each side's reply turns of a conversational row. */
function splitConversation(row: Row, chosen: ChatMessage[], rejected: ChatMessage[]): { prompt: ChatMessage[]; chosen: ChatMessage[]; rejected: ChatMessage[] } {
  if (Array.isArray(row.prompt)) return { prompt: toMessages(row.prompt, 'prompt'), chosen, rejected };
  const shared = sharedTurns(chosen, rejected);
  if (shared === chosen.length && shared === rejected.length) {
    reject('identical-responses', 'the chosen and rejected conversations are the same messages, so the row states no preference');
  }
  if (shared === chosen.length || shared === rejected.length) {
    const side = shared === chosen.length ? 'chosen' : 'rejected';
    reject('unsupported-conversation', `"${side}" is only the start of the other conversation, so it has no reply of its own`);
  }
  const textPrompt = row.prompt;
  if (typeof textPrompt === 'string') {
    // UltraFeedback-binarized: the string prompt is the user turn both lists start with (or, when the
    // lists hold only the replies, the turn to put before them).
    if (shared === 0) return { prompt: [{ role: 'user', content: textPrompt }], chosen, rejected };
    const inside = chosen.slice(0, shared).some((m) => m.role === 'user' && m.content.trim() === textPrompt.trim());
    if (!inside) reject('invalid-value', '"prompt" is not the text of a user turn that "chosen" and "rejected" share; the row contradicts itself');
  } else if (shared === 0) {
    reject('no-shared-prompt', 'the row has no "prompt" and "chosen" and "rejected" differ from their first message, so there is no shared prompt');
  }
  return { prompt: chosen.slice(0, shared), chosen: chosen.slice(shared), rejected: rejected.slice(shared) };
}

function parseConversation(row: Row): ParsedRow {
  const chosenRaw = requireField(row, 'chosen');
  const rejectedRaw = requireField(row, 'rejected');
  if (typeof chosenRaw === 'string' || typeof rejectedRaw === 'string') {
    reject('unsupported-conversation', 'mixes plain strings and message lists in "chosen" and "rejected"; use one form for both');
  }
  if (row.prompt !== undefined && row.prompt !== null && typeof row.prompt !== 'string' && !Array.isArray(row.prompt)) {
    reject('wrong-type', `"prompt" must be a string or a list of messages, got ${typeName(row.prompt)}`);
  }
  const split = splitConversation(row, toMessages(chosenRaw, 'chosen'), toMessages(rejectedRaw, 'rejected'));
  for (const side of ['chosen', 'rejected'] as const) {
    const turns = split[side];
    if (turns[turns.length - 1].role !== 'assistant') reject('unsupported-conversation', `the last message of "${side}" must be the assistant's reply`);
    if (turns[0].role !== 'assistant') reject('unsupported-conversation', `the reply in "${side}" must start with an assistant message, got ${JSON.stringify(turns[0].role)}`);
  }
  const prompt = hhTranscript(split.prompt, { addGenerationPrompt: true });
  // hhTranscript(prompt ⊕ reply) starts with the prompt's turns and then "\n\nAssistant:", so what is
  // left is the reply with its leading space, as in HH-RLHF dialogues.
  const reply = (turns: ChatMessage[]): string => hhTranscript([...split.prompt, ...turns]).slice(prompt.length);
  const parsed: ParsedRow = { prompt, chosen: reply(split.chosen), rejected: reply(split.rejected), conversation: split };
  const scoreChosen = optionalNumber(row, 'score_chosen');
  const scoreRejected = optionalNumber(row, 'score_rejected');
  if (scoreChosen !== undefined || scoreRejected !== undefined) parsed.scores = { chosen: scoreChosen, rejected: scoreRejected };
  return parsed;
}

export function parseTrlRow(row: Row): ParsedRow {
  const conversational = Array.isArray(row.chosen) || Array.isArray(row.rejected) || Array.isArray(row.prompt);
  const parsed = conversational ? parseConversation(row) : parseStandard(row);
  const margin = optionalNumber(row, 'margin');
  return margin === undefined ? parsed : { ...parsed, margin };
}
