/**
 * A model's chat template is untrusted input: templates that would hang or exhaust the heap are refused
 * with a TemplateError naming the file and the limit, quickly, through every entry point that renders
 * (ChatTemplate.render, applyChatTemplate/renderChat + encodeChat, encodePreferences, the terminal token).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodePreferences } from '../../src/data/encode.js';
import { loadPreferences } from '../../src/data/load.js';
import { TemplateError, TokenizerError, type TemplateLimit } from '../../src/errors.js';
import { endOfTurnTokenId } from '../../src/lm/terminal-token.js';
import { PargsTokenizer } from '../../src/lm/tokenizer.js';
import { LLAMA3, QWEN2 } from '../fixtures/chat-templates.js';
import { EOT, tinyTokenizerJson } from '../helpers/tiny-model.js';

const chat = [{ role: 'user', content: 'Hi?' }];

/** Hostile templates, each with the limit it must hit; each alone would hang or kill an unbounded engine. */
const HOSTILE: [string, string, TemplateLimit][] = [
  ['a billion-item range', '{% for i in range(1000000000) %}{% endfor %}x', 'listItems'],
  ['a recursive macro', '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(1) }}', 'depth'],
  ['100 MB of output from a loop', `{% for i in range(10000) %}{{ '${'x'.repeat(10_000)}' }}{% endfor %}`, 'characters'],
  ['a string doubled 40 times', "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}", 'characters'],
  ['a list doubled 40 times', '{% set ns = namespace(a=[1]) %}{% for i in range(40) %}{% set ns.a = ns.a + ns.a %}{% endfor %}', 'listItems'],
  ['a million nested iterations', '{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}', 'loopIterations'],
  ['one operation past V8’s string maximum', "{{ 'a\\nb' | indent(1000000000) }}", 'characters'],
];

/** Slow work within every counter: a 2 M-character string upper-cased 10,000 times (≈ 20 s unbounded). */
const SLOW = "{% set ns = namespace(s='ab') %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{% for i in range(10000) %}{% if ns.s.upper() %}{% endif %}{% endfor %}";

async function modelDir(template: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pargs-template-'));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tinyTokenizerJson().json));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: EOT, eos_token: EOT, chat_template: template }));
  return dir;
}

/** Runs `fn`, expecting a TemplateError for `limit` naming `dir`, and returns the milliseconds it took. */
function refusal(fn: () => unknown, limit: TemplateLimit, where: string): number {
  const start = performance.now();
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  const ms = performance.now() - start;
  expect(error).toBeInstanceOf(TemplateError);
  expect(error).toBeInstanceOf(TokenizerError);
  expect((error as TemplateError).limit).toBe(limit);
  expect((error as Error).message).toContain(where);
  expect((error as Error).message).toMatch(/exceeded its limit of \d+ /);
  return ms;
}

describe('hostile chat templates are refused fast, naming the file and the limit', () => {
  it.each(HOSTILE)('%s: applyChatTemplate and renderChat', async (_, template, limit) => {
    const dir = await modelDir(template);
    const tok = await PargsTokenizer.fromDir(dir);
    const where = join(dir, 'tokenizer_config.json');
    expect(refusal(() => tok.applyChatTemplate(chat), limit, where)).toBeLessThan(1500);
    expect(refusal(() => tok.encodeChat(tok.renderChat(chat, { addGenerationPrompt: true }).text), limit, where)).toBeLessThan(1500);
  });

  it.each(HOSTILE)('%s: encodePreferences on a conversational row throws instead of dropping every row', async (_, template, limit) => {
    const tok = await PargsTokenizer.fromDir(await modelDir(template));
    const set = await loadPreferences([{ prompt: chat, chosen: [{ role: 'assistant', content: 'Yes.' }], rejected: [{ role: 'assistant', content: 'No.' }] }]);
    expect(refusal(() => encodePreferences(set, tok), limit, 'tokenizer_config.json')).toBeLessThan(1500);
  });

  it('a template slow within every counter is stopped by its one-second time limit', async () => {
    const tok = await PargsTokenizer.fromDir(await modelDir(SLOW));
    const ms = refusal(() => tok.applyChatTemplate(chat), 'milliseconds', 'tokenizer_config.json');
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(ms).toBeLessThan(3000);
  });

  it('the terminal-token probe reports a hostile template instead of quietly choosing another id', async () => {
    const tok = await PargsTokenizer.fromDir(await modelDir(HOSTILE[0][1]));
    refusal(() => endOfTurnTokenId(tok), 'listItems', 'tokenizer_config.json');
  });

  it('names chat_template.jinja when the template came from that file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pargs-template-'));
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tinyTokenizerJson().json));
    await writeFile(join(dir, 'chat_template.jinja'), HOSTILE[1][1]);
    const tok = await PargsTokenizer.fromDir(dir);
    refusal(() => tok.applyChatTemplate(chat), 'depth', join(dir, 'chat_template.jinja'));
  });
});

describe('bounded rendering keeps what templates legitimately do', () => {
  it('range, strftime_now, loops with filters and namespaces render as before', () => {
    const tok = PargsTokenizer.fromJson(tinyTokenizerJson().json, {
      chat_template:
        "{% set ns = namespace(n=0) %}{% for m in messages if m.role == 'user' %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ range(3)|join(',') }}|{{ range(1, 10, 3)|join(',') }}|{{ range(5, 0, -2)|join(',') }}|{{ ns.n }}|{{ strftime_now('%Y') }}",
    });
    expect(tok.applyChatTemplate([...chat, { role: 'assistant', content: 'a' }, ...chat])).toBe(`0,1,2|1,4,7|5,3,1|2|${new Date().getFullYear()}`);
  });

  it('a long conversation well within the limits renders (1,000 turns of 1,000 characters)', () => {
    const tok = PargsTokenizer.fromJson(tinyTokenizerJson().json, { chat_template: QWEN2 });
    const long = Array.from({ length: 1000 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: 'w'.repeat(1000) }));
    expect(tok.applyChatTemplate(long).length).toBeGreaterThan(1_000_000);
  });

  it('a template that refuses one conversation still drops only that row (a TokenizerError, not a TemplateError)', async () => {
    const tok = PargsTokenizer.fromJson(tinyTokenizerJson().json, { bos_token: EOT, chat_template: "{{ raise_exception('no') if messages|length > 1 else '' }}" + LLAMA3 });
    const set = await loadPreferences([{ chosen: [...chat, { role: 'assistant', content: 'a' }], rejected: [...chat, { role: 'assistant', content: 'b' }] }]);
    const encoded = encodePreferences(set, tok);
    expect(encoded.pairs).toHaveLength(0);
    expect(encoded.report.dropped[0]?.reason).toBe('unsupported-conversation');
  });
});
