/**
 * Prompt files of the CLI. `--messages FILE` (`pargs generate` / `pargs sample`): conversations to render
 * with the model's chat template, one JSON array of `{role, content}` messages or JSON lines of such
 * arrays. `--prompts FILE`: plain text (one prompt per line), or .jsonl / .json rows (optionally .gz)
 * holding a `prompt` (text or messages), a `messages` list, or a message list as the row itself.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import type { Prompt } from '../decode/generate.js';
import { OptionError } from '../errors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { checkMessages, type ChatMessage } from '../lm/chat-template.js';

function asConversation(value: unknown, where: string): ChatMessage[] {
  try {
    checkMessages(value, where);
  } catch (err) {
    throw new OptionError(`${(err as Error).message}; --messages takes a JSON array of {"role": "user", "content": "..."} messages, or JSON lines of such arrays`);
  }
  return value.map((m) => ({ role: m.role, content: m.content }));
}

/** The conversations of a --messages file, each checked; errors name the file and line. */
export async function readMessagesFile(file: string): Promise<ChatMessage[][]> {
  let text: string;
  try {
    // A byte-order mark (editors on Windows write one) is not part of the JSON.
    text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  } catch (err) {
    throw new OptionError(`--messages file "${file}" cannot be read: ${(err as Error).message}`);
  }
  try {
    return [asConversation(JSON.parse(text) as unknown, file)];
  } catch (err) {
    if (err instanceof OptionError) throw err;
  }
  // Not one JSON value: JSON lines, one conversation per non-blank line.
  const conversations: ChatMessage[][] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new OptionError(`${file} line ${i + 1} is not valid JSON (${(err as Error).message}); --messages takes a JSON array of messages, or JSON lines of such arrays`);
    }
    conversations.push(asConversation(value, `${file} line ${i + 1}`));
  });
  if (conversations.length === 0) throw new OptionError(`--messages file "${file}" holds no conversation`);
  return conversations;
}

/** Says once, on stderr, that a model without a chat template gets the HH transcript. */
export function noteRendering(lm: CausalLM, model: string, err: (line: string) => void): void {
  if (lm.tokenizer.chatTemplate) return;
  err(`note: ${model} has no chat_template in tokenizer_config.json; conversations are rendered as an HH transcript ("\\n\\nHuman: …\\n\\nAssistant:")`);
}

const PROMPT_ROW_HINT = 'expected {"prompt": "..."}, {"prompt": [messages]}, {"messages": [messages]} or a [messages] array, with messages {"role": "user", "content": "..."}';

function promptOfRow(value: unknown, where: string): Prompt {
  const conversation = (messages: unknown): Prompt => {
    try {
      checkMessages(messages, where);
    } catch (err) {
      throw new OptionError(`${(err as Error).message}; ${PROMPT_ROW_HINT}`);
    }
    return messages.map((m) => ({ role: m.role, content: m.content }));
  };
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return conversation(value);
  if (value !== null && typeof value === 'object') {
    const row = value as Record<string, unknown>;
    if (typeof row.prompt === 'string') return row.prompt;
    if (Array.isArray(row.prompt)) return conversation(row.prompt);
    if (Array.isArray(row.messages)) return conversation(row.messages);
  }
  throw new OptionError(`${where} holds no prompt; ${PROMPT_ROW_HINT}`);
}

/**
 * The prompts of a --prompts file. `.jsonl`/`.json` (also `.gz`-compressed) rows are read as JSON; any
 * other file is plain text, one prompt per non-blank line with `\n` standing for a newline.
 */
export async function readPromptsFile(file: string): Promise<Prompt[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new OptionError(`--prompts file "${file}" cannot be read: ${(err as Error).message}`);
  }
  const gzip = file.toLowerCase().endsWith('.gz');
  const base = gzip ? file.toLowerCase().slice(0, -3) : file.toLowerCase();
  let text: string;
  try {
    text = (gzip ? gunzipSync(bytes) : bytes).toString('utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    throw new OptionError(`--prompts file "${file}" is not valid gzip (${(err as Error).message})`);
  }
  let prompts: Prompt[];
  if (base.endsWith('.json')) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new OptionError(`--prompts file "${file}" is not valid JSON (${(err as Error).message}); a .json file holds one array of rows — for one row per line, name it .jsonl`);
    }
    if (!Array.isArray(value)) throw new OptionError(`--prompts file "${file}" must hold a JSON array of rows; ${PROMPT_ROW_HINT}`);
    prompts = value.map((row, i) => promptOfRow(row, `${file} row ${i}`));
  } else {
    const lines = text.split(/\r?\n/).map((line, i) => ({ line, n: i + 1 })).filter(({ line }) => line.trim() !== '');
    prompts = lines.map(({ line, n }) => {
      if (!base.endsWith('.jsonl')) return line.replace(/\\n/g, '\n');
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        throw new OptionError(`${file} line ${n} is not valid JSON (${(err as Error).message}); ${PROMPT_ROW_HINT}`);
      }
      return promptOfRow(value, `${file} line ${n}`);
    });
  }
  if (prompts.length === 0) throw new OptionError(`--prompts file "${file}" has no prompts`);
  return prompts;
}
