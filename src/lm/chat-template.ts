/**
 * Chat templates: the Jinja `chat_template` of a tokenizer_config.json, rendered with `@huggingface/jinja`
 * (made for these templates) and the variables transformers' `apply_chat_template` passes: `messages`,
 * `add_generation_prompt`, and the special tokens (`bos_token`, `eos_token`, ...). `raise_exception` and
 * `strftime_now` are the library's built-ins. Rendering runs with limits (template-limits.ts): a template
 * comes with a downloaded model and is untrusted input. A model without a template gets the HH transcript
 * ("\n\nHuman: …\n\nAssistant:") instead, which is what pargs has always rendered.
 */
import { OptionError, TemplateError, TokenizerError } from '../errors.js';
import { boolean, checkArgument, checkOptions, plainObject, required, showValue, string } from '../options.js';
import { compileTemplate, renderBounded } from './template-limits.js';

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
  if (!Array.isArray(messages) || messages.length === 0) throw new OptionError(`${where} must be a non-empty list of {role, content} messages, got ${Array.isArray(messages) ? 'an empty list' : showValue(messages)}`);
  messages.forEach((m: unknown, i) => {
    const ok = m !== null && typeof m === 'object' && typeof (m as ChatMessage).role === 'string' && typeof (m as ChatMessage).content === 'string';
    if (!ok) throw new OptionError(`${where}[${i}] must be a {role: string, content: string} message, got ${JSON.stringify(m)}`);
  });
}

/** The options of every rendering function, checked so a misspelt `addGenerationPromt` is refused. */
export function checkRenderOptions(fn: string, options: ChatRenderOptions): void {
  checkOptions(fn, options, { addGenerationPrompt: boolean() });
}

const HH_LABELS: Record<string, string> = { system: 'System', user: 'Human', assistant: 'Assistant' };

/**
 * The HH-RLHF transcript of a conversation: "\n\nHuman: …\n\nAssistant: …", and with a generation prompt a
 * final "\n\nAssistant:" (the reply's leading space then belongs to the reply, as in HH-RLHF data).
 */
export function hhTranscript(messages: readonly ChatMessage[], options: ChatRenderOptions = {}): string {
  checkMessages(messages, 'hhTranscript: messages');
  checkRenderOptions('hhTranscript', options);
  const turns = messages.map((m) => {
    const label = HH_LABELS[m.role];
    if (label === undefined) throw new OptionError(`the HH transcript has no label for role ${JSON.stringify(m.role)}; use "system", "user" or "assistant"`);
    return `\n\n${label}: ${m.content}`;
  });
  return turns.join('') + (options.addGenerationPrompt ? '\n\nAssistant:' : '');
}

/**
 * The template text of a `chat_template` value: a string, or a list of `{name, template}` (the "default"
 * one); or why pargs cannot use it — said when a conversation is rendered, so the model still loads for
 * plain text.
 */
function templateSource(value: unknown, where: string): { source: string } | { unusable: string } | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return { source: value };
  if (Array.isArray(value)) {
    const named = value.filter((t): t is { name: string; template: string } => t && typeof t.name === 'string' && typeof t.template === 'string');
    const chosen = named.find((t) => t.name === 'default');
    if (chosen) return { source: chosen.template };
    return { unusable: `${where} "chat_template" is a list of named templates (${named.map((t) => JSON.stringify(t.name)).join(', ')}) without one named "default"; pargs renders the default one` };
  }
  return { unusable: `${where} "chat_template" must be a string or a list of {name, template}, got ${showValue(value)}` };
}

export class ChatTemplate {
  private compiled: ReturnType<typeof compileTemplate> | undefined;

  private constructor(
    /** The Jinja source. */
    readonly source: string,
    /** Special-token variables passed to the template (`bos_token`, `eos_token`, ...). */
    readonly specialTokens: Readonly<Record<string, unknown>>,
    private readonly where: string,
    /** Why the config's `chat_template` cannot be used (then `source` is empty): said at render. */
    private readonly unusable?: string,
  ) {}

  /**
   * The template of a tokenizer config, or undefined when it has none. `where` names the config in
   * messages; `templateWhere` the file the template came from, when not the config (chat_template.jinja).
   */
  static fromConfig(config: Record<string, unknown>, where = 'tokenizer_config.json', templateWhere = where): ChatTemplate | undefined {
    checkArgument('ChatTemplate.fromConfig', 'config', config, required(plainObject('a tokenizer_config.json object')));
    checkArgument('ChatTemplate.fromConfig', 'where', where, string());
    checkArgument('ChatTemplate.fromConfig', 'templateWhere', templateWhere, string());
    const found = templateSource(config.chat_template, templateWhere);
    if (found === undefined) return undefined;
    const specialTokens: Record<string, unknown> = {};
    for (const key of SPECIAL_TOKEN_KEYS) {
      const text = tokenString(config[key]);
      if (text !== undefined) specialTokens[key] = text;
    }
    if (Array.isArray(config.additional_special_tokens)) {
      specialTokens.additional_special_tokens = config.additional_special_tokens.map(tokenString).filter((t) => t !== undefined);
    }
    return 'source' in found ? new ChatTemplate(found.source, specialTokens, templateWhere) : new ChatTemplate('', specialTokens, templateWhere, found.unusable);
  }

  /**
   * The conversation rendered by the template. A template that exceeds a rendering limit is a
   * TemplateError; one that refuses the conversation (`raise_exception`) a TokenizerError.
   */
  render(messages: readonly ChatMessage[], options: ChatRenderOptions = {}): string {
    checkMessages(messages, 'ChatTemplate.render: messages');
    checkRenderOptions('ChatTemplate.render', options);
    if (this.unusable !== undefined) throw new TokenizerError(`${this.unusable}; pass plain text prompts instead`);
    // Compiled on first use: a model whose template this engine cannot parse still loads for plain text.
    if (!this.compiled) {
      try {
        this.compiled = compileTemplate(this.source);
      } catch (err) {
        throw new TokenizerError(`the chat_template of ${this.where} cannot be parsed: ${(err as Error).message}; pass plain text prompts instead`);
      }
    }
    try {
      const variables = {
        ...this.specialTokens,
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: options.addGenerationPrompt ?? false,
      };
      return renderBounded(this.compiled, variables, this.where);
    } catch (err) {
      if (err instanceof TemplateError) throw err;
      // raise_exception(...) in the template lands here too, with the template's own message.
      throw new TokenizerError(`the chat_template of ${this.where} refused the conversation: ${(err as Error).message}`);
    }
  }
}
