/**
 * TRL preference rows. The standard form is `{prompt, chosen, rejected}` strings, used as they are.
 * The conversational form (lists of `{role, content}` messages) is accepted when it is simple: the last
 * message of `chosen` and `rejected` is the assistant's reply, and everything before it (the `prompt`
 * messages, if any, then the turns the two share) is rendered as an HH-style transcript ending in
 * "\n\nAssistant:", so both forms reach the tokenizer as plain text without a model-specific chat template.
 */
import { type ParsedRow, type Row, isPlainObject, reject, requireField, requireString, typeName } from './fields.js';

const ROLE_LABELS: Record<string, string> = { system: 'System', user: 'Human', assistant: 'Assistant' };

interface Message {
  role: string;
  content: string;
}

function toMessages(value: unknown, path: string): Message[] {
  if (!Array.isArray(value)) reject('wrong-type', `"${path}" must be a string or a list of messages, got ${typeName(value)}`);
  if (value.length === 0) reject('unsupported-conversation', `"${path}" is an empty message list`);
  return value.map((m: unknown, i) => {
    const where = `${path}[${i}]`;
    if (!isPlainObject(m)) reject('unsupported-conversation', `"${where}" must be a {role, content} message, got ${typeName(m)}`);
    if (typeof m.role !== 'string' || !(m.role in ROLE_LABELS)) {
      reject('unsupported-conversation', `"${where}.role" must be "system", "user" or "assistant", got ${JSON.stringify(m.role)}`);
    }
    if (typeof m.content !== 'string') {
      reject('unsupported-conversation', `"${where}.content" must be a string (multi-part content is not supported), got ${typeName(m.content)}`);
    }
    return { role: m.role, content: m.content };
  });
}

const sameTurns = (a: Message[], b: Message[]): boolean =>
  a.length === b.length && a.every((m, i) => m.role === b[i].role && m.content === b[i].content);

function parseConversation(row: Row): ParsedRow {
  const chosenRaw = requireField(row, 'chosen');
  const rejectedRaw = requireField(row, 'rejected');
  if (typeof row.prompt === 'string' || typeof chosenRaw === 'string' || typeof rejectedRaw === 'string') {
    reject('unsupported-conversation', 'mixes plain strings and message lists among "prompt", "chosen" and "rejected"; use one form for all of them');
  }
  const promptTurns = row.prompt === undefined || row.prompt === null ? [] : toMessages(row.prompt, 'prompt');
  const chosen = toMessages(chosenRaw, 'chosen');
  const rejected = toMessages(rejectedRaw, 'rejected');
  for (const [side, turns] of [['chosen', chosen], ['rejected', rejected]] as const) {
    if (turns[turns.length - 1].role !== 'assistant') reject('unsupported-conversation', `the last message of "${side}" must be the assistant's reply`);
  }
  if (!sameTurns(chosen.slice(0, -1), rejected.slice(0, -1))) {
    reject('unsupported-conversation', '"chosen" and "rejected" differ before their last message, so they share no prompt');
  }
  const context = [...promptTurns, ...chosen.slice(0, -1)];
  const prompt = context.map((m) => `\n\n${ROLE_LABELS[m.role]}: ${m.content}`).join('') + '\n\nAssistant:';
  // The space after "Assistant:" goes with the reply, as in HH-RLHF dialogues.
  return { prompt, chosen: ` ${chosen[chosen.length - 1].content}`, rejected: ` ${rejected[rejected.length - 1].content}` };
}

export function parseTrlRow(row: Row): ParsedRow {
  if (Array.isArray(row.chosen) || Array.isArray(row.rejected) || Array.isArray(row.prompt)) return parseConversation(row);
  return { prompt: requireString(row, 'prompt'), chosen: requireString(row, 'chosen'), rejected: requireString(row, 'rejected') };
}
