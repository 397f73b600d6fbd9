/**
 * Chat templates: the Jinja `chat_template` of a tokenizer_config.json, rendered with `@huggingface/jinja`
 * (made for these templates) and the variables transformers' `apply_chat_template` passes: `messages`,
 * `add_generation_prompt`, and the special tokens (`bos_token`, `eos_token`, ...). `raise_exception` and
 * `strftime_now` are the library's built-ins. A model without a template gets the HH transcript
 * ("\n\nHuman: …\n\nAssistant:") instead, which is what pargs has always rendered.
 */
import { Template } from '@huggingface/jinja';
import { OptionError, TokenizerError } from '../errors.js';

/** One turn of a conversation. */
export interface ChatMessage {
  role: string;
  content: string;
}

/** Which rendering a conversation got: the model's own template, or the HH transcript fallback. */
export type ChatRendering = 'chat-template' | 'hh-transcript';

export interface ChatRenderOptions {
  /** End with the opening of an assistant turn, so the model continues as the assistant (default false). */
  addGenerationPrompt?: boolean;
}

/** The keys of tokenizer_config.json whose values are special tokens, passed to the template by name. */
const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token'];

/** Special tokens appear as plain strings or as `{content: "..."}` objects in tokenizer configs. */
export function tokenString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return undefined;
}

/** Refuses anything but a non-empty list of `{role, content}` string messages, naming the bad entry. */
export function checkMessages(messages: unknown, where: string): asserts messages is readonly ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) throw new OptionError(`${where} must be a non-empty list of {role, content} messages, got ${Array.isArray(messages) ? 'an empty list' : typeof messages}`);
  messages.forEach((m: unknown, i) => {
    const ok = m !== null && typeof m === 'object' && typeof (m as ChatMessage).role === 'string' && typeof (m as ChatMessage).content === 'string';
    if (!ok) throw new OptionError(`${where}[${i}] must be a {role: string, content: string} message, got ${JSON.stringify(m)}`);
  });
}

const HH_LABELS: Record<string, string> = { system: 'System', user: 'Human', assistant: 'Assistant' };

/**
 * The HH-RLHF transcript of a conversation: "\n\nHuman: …\n\nAssistant: …", and with a generation prompt a
 * final "\n\nAssistant:" (the reply's leading space then belongs to the reply, as in HH-RLHF data).
 */
export function hhTranscript(messages: readonly ChatMessage[], options: ChatRenderOptions = {}): string {
  const turns = messages.map((m) => {
    const label = HH_LABELS[m.role];
    if (label === undefined) throw new OptionError(`the HH transcript has no label for role ${JSON.stringify(m.role)}; use "system", "user" or "assistant"`);
    return `\n\n${label}: ${m.content}`;
  });
  return turns.join('') + (options.addGenerationPrompt ? '\n\nAssistant:' : '');
}

/** The template text of a `chat_template` value: a string, or a list of `{name, template}` (the "default" one). */
function templateSource(value: unknown, where: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value.filter((t): t is { name: string; template: string } => t && typeof t.name === 'string' && typeof t.template === 'string');
    const chosen = named.find((t) => t.name === 'default');
    if (!chosen) {
      throw new TokenizerError(`${where} "chat_template" is a list of named templates (${named.map((t) => JSON.stringify(t.name)).join(', ')}) without one named "default"; pargs renders the default one`);
    }
    return chosen.template;
  }
  throw new TokenizerError(`${where} "chat_template" must be a string or a list of {name, template}, got ${typeof value}`);
}

export class ChatTemplate {
  private compiled: Template | undefined;

  private constructor(
    /** The Jinja source. */
    readonly source: string,
    /** Special-token variables passed to the template (`bos_token`, `eos_token`, ...). */
    readonly specialTokens: Readonly<Record<string, unknown>>,
    private readonly where: string,
  ) {}

  /** The template of a tokenizer config, or undefined when it has none. */
  static fromConfig(config: Record<string, unknown>, where = 'tokenizer_config.json'): ChatTemplate | undefined {
    const source = templateSource(config.chat_template, where);
    if (source === undefined) return undefined;
    const specialTokens: Record<string, unknown> = {};
    for (const key of SPECIAL_TOKEN_KEYS) {
      const text = tokenString(config[key]);
      if (text !== undefined) specialTokens[key] = text;
    }
    if (Array.isArray(config.additional_special_tokens)) {
      specialTokens.additional_special_tokens = config.additional_special_tokens.map(tokenString).filter((t) => t !== undefined);
    }
    return new ChatTemplate(source, specialTokens, where);
  }

  render(messages: readonly ChatMessage[], options: ChatRenderOptions = {}): string {
    checkMessages(messages, 'messages');
    // Compiled on first use: a model whose template this engine cannot parse still loads for plain text.
    if (!this.compiled) {
      try {
        this.compiled = new Template(this.source);
      } catch (err) {
        throw new TokenizerError(`the chat_template of ${this.where} cannot be parsed: ${(err as Error).message}; pass plain text prompts instead`);
      }
    }
    try {
      return this.compiled.render({
        ...this.specialTokens,
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: options.addGenerationPrompt ?? false,
      });
    } catch (err) {
      // raise_exception(...) in the template lands here too, with the template's own message.
      throw new TokenizerError(`the chat_template of ${this.where} refused the conversation: ${(err as Error).message}`);
    }
  }
}
