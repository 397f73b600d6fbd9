/**
 * `--messages FILE` of `pargs generate` / `pargs sample`: conversations to render with the model's chat
 * template. The file is one JSON array of `{role, content}` messages, or JSON lines of such arrays.
 */
import { readFile } from 'node:fs/promises';
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
    text = await readFile(file, 'utf8');
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
