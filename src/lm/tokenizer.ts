/**
 * A Hugging Face tokenizer folder (tokenizer.json + tokenizer_config.json) with the BOS/EOS rules of the
 * transformers tokenizer classes, which `@huggingface/tokenizers` alone does not apply: Llama- and
 * Gemma-type classes rebuild their post-processor from `add_bos_token` (default true) and
 * `add_eos_token` (default false); every other class trusts tokenizer.json's own template.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { TokenizerError } from '../errors.js';
import { ChatTemplate, checkMessages, checkRenderOptions, hhTranscript, tokenString, type ChatMessage, type ChatRenderOptions, type ChatRendering } from './chat-template.js';
import { readJsonObjectFile } from '../io/read-input.js';
import { boolean, checkArgument, checkOptions, integer, plainObject, required, string, tokenIds } from '../options.js';

const FLAG_DRIVEN_CLASSES = new Set(['LlamaTokenizer', 'LlamaTokenizerFast', 'GemmaTokenizer', 'GemmaTokenizerFast', 'CodeLlamaTokenizer', 'CodeLlamaTokenizerFast']);

type Json = Record<string, unknown>;

/** Reads a JSON object file; undefined when absent and not `required`. Errors name the file. */
export function readJsonObject(path: string, required: boolean): Promise<{ value: Json; text: string } | undefined> {
  return readJsonObjectFile(path, required, (message) => new TokenizerError(message));
}

async function readOptionalText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TokenizerError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

export interface EncodeOptions {
  /** Apply the tokenizer's BOS/EOS rule (default true). False gives the bare ids of the text. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens such as EOS from the text (default true). */
  skipSpecialTokens?: boolean;
  /**
   * Apply the clean-up of spaces before punctuation (`clean_up_tokenization_spaces`; default: as
   * tokenizer_config.json says, on when unset). The text bridge turns it off to get the text the ids spell.
   */
  cleanUpSpaces?: boolean;
}

export class PargsTokenizer {
  /** True when this tokenizer puts BOS in front of encoded text (per its class rule). */
  readonly addsBos: boolean;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  /** Number of ids the tokenizer knows (may be below the model's vocab_size). */
  readonly size: number;

  private constructor(
    private readonly inner: Tokenizer,
    private readonly flagRule: { bos: boolean; eos: boolean } | null,
    bosTokenId: number | null,
    eosTokenId: number | null,
    /** SHA-256 of tokenizer.json: two models share a tokenizer iff their fingerprints match. */
    readonly fingerprint: string,
    readonly tokenizerClass: string | undefined,
    /** The model's chat template (tokenizer_config.json `chat_template`), if it has one. */
    readonly chatTemplate: ChatTemplate | undefined,
    /** The text of the BOS token, to see whether a rendered template already starts with it. */
    private readonly bosText: string | undefined,
  ) {
    this.bosTokenId = bosTokenId;
    this.eosTokenId = eosTokenId;
    this.size = inner.get_vocab(true).size;
    this.addsBos = flagRule ? flagRule.bos && bosTokenId !== null : this.templateAddsBos();
  }

  /** Loads `dir/tokenizer.json` and, when present, `dir/tokenizer_config.json` and `special_tokens_map.json`. */
  static async fromDir(dir: string): Promise<PargsTokenizer> {
    checkArgument('PargsTokenizer.fromDir', 'dir', dir, required(string()));
    const jsonPath = join(dir, 'tokenizer.json');
    const exists = await stat(jsonPath).then(() => true, () => false);
    if (!exists) {
      throw new TokenizerError(
        `${jsonPath} not found: pargs needs a Hugging Face fast-tokenizer file (tokenizer.json); convert a slow tokenizer with transformers' AutoTokenizer(...).save_pretrained()`,
      );
    }
    const { value: json, text } = (await readJsonObject(jsonPath, true)) as { value: Json; text: string };
    const config = (await readJsonObject(join(dir, 'tokenizer_config.json'), false))?.value ?? {};
    const specialMap = (await readJsonObject(join(dir, 'special_tokens_map.json'), false))?.value ?? {};
    // Recent transformers versions save the template next to the config instead of inside it.
    const templatePath = join(dir, 'chat_template.jinja');
    const templateFile = config.chat_template === undefined ? await readOptionalText(templatePath) : undefined;
    const fingerprint = createHash('sha256').update(text).digest('hex');
    const merged = { ...specialMap, ...config, ...(templateFile !== undefined ? { chat_template: templateFile } : {}) };
    return PargsTokenizer.build(json, merged, fingerprint, jsonPath, templateFile !== undefined ? templatePath : undefined);
  }

  /** Builds a tokenizer from already-parsed files (tests and in-memory use). */
  static fromJson(tokenizerJson: Json, tokenizerConfig: Json = {}, fingerprint?: string, where = 'tokenizer.json'): PargsTokenizer {
    checkArgument('PargsTokenizer.fromJson', 'tokenizerJson', tokenizerJson, required(plainObject('a tokenizer.json object')));
    checkArgument('PargsTokenizer.fromJson', 'tokenizerConfig', tokenizerConfig, plainObject('a tokenizer_config.json object'));
    checkArgument('PargsTokenizer.fromJson', 'fingerprint', fingerprint, string());
    checkArgument('PargsTokenizer.fromJson', 'where', where, string());
    return PargsTokenizer.build(tokenizerJson, tokenizerConfig, fingerprint, where, undefined);
  }

  /** `templateWhere`: the file the chat template came from when not tokenizer_config.json. */
  private static build(tokenizerJson: Json, tokenizerConfig: Json, fingerprint: string | undefined, where: string, templateWhere: string | undefined): PargsTokenizer {
    let inner: Tokenizer;
    try {
      inner = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (err) {
      throw new TokenizerError(`${where} could not be loaded by @huggingface/tokenizers: ${(err as Error).message}`);
    }
    const idOf = (key: string): number | null => {
      const s = tokenString(tokenizerConfig[key]);
      if (s === undefined) return null;
      const id = inner.token_to_id(s);
      if (id === undefined) throw new TokenizerError(`tokenizer_config.json "${key}" is "${s}", which is not in the vocabulary of ${where}`);
      return id;
    };
    const cls = typeof tokenizerConfig.tokenizer_class === 'string' ? tokenizerConfig.tokenizer_class : undefined;
    const flagRule =
      cls !== undefined && FLAG_DRIVEN_CLASSES.has(cls)
        ? { bos: tokenizerConfig.add_bos_token !== false, eos: tokenizerConfig.add_eos_token === true }
        : null;
    const print = fingerprint ?? createHash('sha256').update(JSON.stringify(tokenizerJson)).digest('hex');
    const configWhere = where.replace(/tokenizer\.json$/, 'tokenizer_config.json');
    const chatTemplate = ChatTemplate.fromConfig(tokenizerConfig, configWhere, templateWhere ?? configWhere);
    return new PargsTokenizer(inner, flagRule, idOf('bos_token'), idOf('eos_token'), print, cls, chatTemplate, tokenString(tokenizerConfig.bos_token));
  }

  /** The model's chat template applied to `messages`; a TokenizerError when the model has none. */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatRenderOptions = {}): string {
    checkMessages(messages, 'applyChatTemplate: messages');
    checkRenderOptions('applyChatTemplate', options);
    if (!this.chatTemplate) throw new TokenizerError('this tokenizer has no chat_template; use renderChat for the HH transcript fallback, or give plain text');
    return this.chatTemplate.render(messages, options);
  }

  /** A conversation as text: the chat template when the model has one, else the HH transcript. */
  renderChat(messages: readonly ChatMessage[], options: ChatRenderOptions = {}): { text: string; rendering: ChatRendering } {
    checkMessages(messages, 'renderChat: messages');
    checkRenderOptions('renderChat', options);
    if (this.chatTemplate) return { text: this.chatTemplate.render(messages, options), rendering: 'chat-template' };
    return { text: hhTranscript(messages, options), rendering: 'hh-transcript' };
  }

  /**
   * Ids of rendered chat text without a double BOS: a template that writes the BOS token itself gets the
   * bare ids of its text; any other text gets the tokenizer's own rule, like a plain prompt.
   */
  encodeChat(text: string): number[] {
    checkArgument('encodeChat', 'text', text, required(string()));
    const writesBos = this.bosText !== undefined && this.bosText !== '' && text.startsWith(this.bosText);
    return this.encode(text, { addSpecialTokens: !writesBos });
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    checkArgument('encode', 'text', text, required(string()));
    checkOptions('encode', options, { addSpecialTokens: boolean() });
    const special = options.addSpecialTokens ?? true;
    if (!special) return this.inner.encode(text, { add_special_tokens: false }).ids;
    if (!this.flagRule) return this.inner.encode(text, { add_special_tokens: true }).ids;
    const ids = this.inner.encode(text, { add_special_tokens: false }).ids;
    if (this.flagRule.bos && this.bosTokenId !== null) ids.unshift(this.bosTokenId);
    if (this.flagRule.eos && this.eosTokenId !== null) ids.push(this.eosTokenId);
    return ids;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    checkArgument('decode', 'ids', ids, required(tokenIds()));
    checkOptions('decode', options, { skipSpecialTokens: boolean(), cleanUpSpaces: boolean() });
    // @huggingface/tokenizers throws on an empty list; the empty sequence is the empty string.
    if (ids.length === 0) return '';
    return this.inner.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? true, ...(options.cleanUpSpaces === undefined ? {} : { clean_up_tokenization_spaces: options.cleanUpSpaces }) });
  }

  /** The string of one id (for traces); undefined for ids beyond the tokenizer's vocabulary. */
  idToToken(id: number): string | undefined {
    checkArgument('idToToken', 'id', id, required(integer()));
    return this.inner.id_to_token(id);
  }

  private templateAddsBos(): boolean {
    if (this.bosTokenId === null) return false;
    const withSpecial = this.inner.encode('a', { add_special_tokens: true }).ids;
    return withSpecial[0] === this.bosTokenId;
  }
}
