/** Chat templates of the four families rendered against expected strings, the HH fallback, and no double BOS. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OptionError, TokenizerError } from '../../src/errors.js';
import { ChatTemplate, hhTranscript } from '../../src/lm/chat-template.js';
import { PargsTokenizer } from '../../src/lm/tokenizer.js';
import { GEMMA, LLAMA3, MISTRAL, QWEN2 } from '../fixtures/chat-templates.js';
import { EOT, tinyTokenizerJson } from '../helpers/tiny-model.js';

const chat = [
  { role: 'user', content: 'Hi?' },
  { role: 'assistant', content: 'Hello.' },
  { role: 'user', content: 'More?' },
];

function template(source: unknown, tokens: Record<string, unknown>): ChatTemplate {
  const t = ChatTemplate.fromConfig({ chat_template: source, ...tokens });
  if (!t) throw new Error('expected a template');
  return t;
}

describe('chat templates of four families', () => {
  it('Llama-3: BOS from the bos_token variable, header tokens, <|eot_id|>, generation prompt', () => {
    const t = template(LLAMA3, { bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>' });
    const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: ' Hi? ' }];
    expect(t.render(messages, { addGenerationPrompt: true })).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    expect(t.render(messages)).not.toMatch(/assistant<\|end_header_id\|>/);
  });

  it('Qwen2 ChatML: the default system turn, no BOS', () => {
    const t = template(QWEN2, { eos_token: '<|im_end|>', pad_token: '<|endoftext|>' });
    expect(t.render(chat.slice(0, 1), { addGenerationPrompt: true })).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n',
    );
    const withSystem = [{ role: 'system', content: 'S.' }, ...chat.slice(0, 2)];
    expect(t.render(withSystem)).toBe('<|im_start|>system\nS.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n');
  });

  it('Mistral [INST]: BOS and EOS from {content} token objects; raise_exception becomes a TokenizerError', () => {
    const t = template(MISTRAL, { bos_token: { content: '<s>', lstrip: false }, eos_token: { content: '</s>' } });
    expect(t.render(chat)).toBe('<s>[INST] Hi? [/INST]Hello.</s>[INST] More? [/INST]');
    expect(() => t.render([{ role: 'assistant', content: 'x' }])).toThrow(TokenizerError);
    expect(() => t.render([{ role: 'assistant', content: 'x' }])).toThrow(/refused the conversation: Conversation roles must alternate/);
  });

  it('Gemma: <start_of_turn>, the model role, no system role', () => {
    const t = template(GEMMA, { bos_token: '<bos>', eos_token: '<eos>' });
    expect(t.render(chat.slice(0, 2))).toBe('<bos><start_of_turn>user\nHi?<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n');
    expect(t.render(chat, { addGenerationPrompt: true })).toBe(
      '<bos><start_of_turn>user\nHi?<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n<start_of_turn>user\nMore?<end_of_turn>\n<start_of_turn>model\n',
    );
    expect(() => t.render([{ role: 'system', content: 's' }, ...chat])).toThrow(/System role not supported/);
  });

  it('takes the "default" of a list of named templates, and refuses a list without one', () => {
    const named = [{ name: 'tool_use', template: 'TOOLS' }, { name: 'default', template: QWEN2 }];
    expect(template(named, {}).render(chat.slice(0, 1))).toBe('<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n');
    // Refused when a conversation is rendered, not at load: the model still takes plain text (issue 29).
    const noDefault = ChatTemplate.fromConfig({ chat_template: [{ name: 'rag', template: 'x' }] });
    expect(() => noDefault?.render(chat)).toThrow(/named templates \("rag"\) without one named "default"; pargs renders the default one; pass plain text prompts instead/);
    expect(() => ChatTemplate.fromConfig({ chat_template: 42 })?.render(chat)).toThrow(/"chat_template" must be a string or a list of \{name, template\}, got 42/);
    expect(ChatTemplate.fromConfig({})).toBeUndefined();
  });

  it('a model whose chat_template pargs cannot use still loads and encodes plain text', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pargs-no-default-'));
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tinyTokenizerJson().json));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: EOT, chat_template: [{ name: 'rag', template: 'x' }] }));
    const tok = await PargsTokenizer.fromDir(dir);
    expect(tok.decode(tok.encode('plain text'))).toBe('plain text');
    expect(() => tok.renderChat(chat)).toThrow(TokenizerError);
    expect(() => tok.renderChat(chat)).toThrow(new RegExp(`${join(dir, 'tokenizer_config.json')} "chat_template" is a list of named templates`));
  });

  it('a template this engine cannot parse fails on first use, naming the file', () => {
    const t = template('{% if %}', {});
    expect(() => t.render(chat)).toThrow(/chat_template of tokenizer_config.json cannot be parsed/);
  });

  it('refuses messages that are not {role, content} strings', () => {
    const t = template(QWEN2, {});
    expect(() => t.render([{ role: 'user', content: 3 } as never])).toThrow(OptionError);
    expect(() => t.render([])).toThrow(/non-empty list/);
  });
});

describe('the HH transcript fallback', () => {
  it('labels turns as HH-RLHF does and ends with "\\n\\nAssistant:" for generation', () => {
    expect(hhTranscript(chat, { addGenerationPrompt: true })).toBe('\n\nHuman: Hi?\n\nAssistant: Hello.\n\nHuman: More?\n\nAssistant:');
    expect(() => hhTranscript([{ role: 'tool', content: 'x' }])).toThrow(/no label for role "tool"/);
  });
});

describe('PargsTokenizer chat rendering', () => {
  const { json, eotId } = tinyTokenizerJson();
  // A Llama-class tokenizer adds BOS by its own rule (add_bos_token defaults to true).
  const llamaConfig = { tokenizer_class: 'LlamaTokenizerFast', bos_token: EOT, eos_token: EOT };

  it('encodes a template that writes BOS itself with a single BOS', () => {
    const tok = PargsTokenizer.fromJson(json, { ...llamaConfig, chat_template: MISTRAL });
    expect(tok.addsBos).toBe(true);
    const text = tok.applyChatTemplate(chat.slice(0, 1), { addGenerationPrompt: true });
    expect(text).toBe(`${EOT}[INST] Hi? [/INST]`);
    const ids = tok.encodeChat(text);
    expect(ids.filter((id) => id === eotId)).toHaveLength(1);
    expect(ids[0]).toBe(eotId);
    // The plain path would have doubled it: that is the bug encodeChat avoids.
    expect(tok.encode(text).slice(0, 2)).toEqual([eotId, eotId]);
  });

  it('gives rendered text without BOS the tokenizer rule, and falls back to the HH transcript without a template', () => {
    const withTemplate = PargsTokenizer.fromJson(json, { ...llamaConfig, chat_template: QWEN2 });
    const text = withTemplate.renderChat(chat.slice(0, 1), { addGenerationPrompt: true });
    expect(text.rendering).toBe('chat-template');
    expect(withTemplate.encodeChat(text.text)[0]).toBe(eotId);
    const plain = PargsTokenizer.fromJson(json, llamaConfig);
    expect(plain.chatTemplate).toBeUndefined();
    expect(plain.renderChat(chat.slice(0, 1), { addGenerationPrompt: true })).toEqual({ text: '\n\nHuman: Hi?\n\nAssistant:', rendering: 'hh-transcript' });
    expect(() => plain.applyChatTemplate(chat)).toThrow(/no chat_template/);
  });

  it('reads chat_template.jinja next to the config when the config has none', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pargs-chat-'));
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(json));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: EOT, eos_token: EOT }));
    await writeFile(join(dir, 'chat_template.jinja'), GEMMA);
    const tok = await PargsTokenizer.fromDir(dir);
    expect(tok.applyChatTemplate(chat.slice(0, 1))).toBe(`${EOT}<start_of_turn>user\nHi?<end_of_turn>\n`);
  });
});
