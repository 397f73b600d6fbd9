/**
 * `pargs demo --quick` end to end on the bundled model: tables on stdout, a report that parses as HTML
 * and holds its plots. Also the report renderer and SVG charts on a synthetic result.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, type DefaultTreeAdapterMap } from 'parse5';
import { describe, expect, it, vi } from 'vitest';
import { BUNDLED_MODEL } from '../../src/cli/demo.js';
import { main } from '../../src/cli/main.js';
import { DEMO_CONFIGS } from '../../src/demo/config.js';
import type { DemoResult } from '../../src/demo/pipeline.js';
import { renderReport } from '../../src/demo/report.js';

type Node = DefaultTreeAdapterMap['node'];

/** Parses HTML with the WHATWG parser; returns its parse errors and the elements by tag name. */
function parseHtml(html: string): { errors: string[]; count: (tag: string) => number } {
  const errors: string[] = [];
  const doc = parse(html, { onParseError: (e) => errors.push(`${e.code} at line ${e.startLine}`) });
  const tags: string[] = [];
  const walk = (n: Node): void => {
    if ('tagName' in n) tags.push(n.tagName);
    if ('childNodes' in n) n.childNodes.forEach(walk);
  };
  walk(doc as unknown as Node);
  return { errors, count: (tag) => tags.filter((t) => t === tag).length };
}

const stat = (mean: number) => ({ mean, stderr: 0.01, n: 10 });
const diag = (acc: number[]) => ({ pairs: 10, fullAccuracy: 0.8, prefixAccuracy: 0.7, prefixAccuracyByDecile: acc, meanMargin: 1, rewardMean: 0, rewardStd: 1, prefixLoss: 0.6 });
const synthetic: DemoResult = {
  config: DEMO_CONFIGS.quick,
  model: 'models/x',
  backend: 'WebAssembly',
  preferences: { pairs: 40, ties: 8, train: 32, eval: 8, baseScore: 0.1 },
  partial: diag([0.6, 0.7, 0.7, 0.8, 0.8, 0.8, 0.8, 0.9, 0.9, 0.9]),
  full: diag([0.5, 0.5, 0.4, 0.5, 0.6, 0.6, 0.7, 0.7, 0.8, Number.NaN]),
  methods: ['plain', 'PARGS'].map((method, i) => ({ method, afinn: stat(0.1 * i), vader: stat(0.2 * i), winVsPlain: { win: 0.5, tie: 0.2, lose: 0.3 }, diversity: 0.8, perplexity: 50, kl: i ? 1.2 : null, tokensPerSecond: 100 / (i + 1), modelCallsPerResponse: 11, responses: ['a <b> & c'] })),
  betaSweep: [0, 2].map((beta) => ({ beta, pargs: { afinn: stat(beta / 10), diversity: 0.8 }, args: { afinn: stat(beta / 20), diversity: 0.8 } })),
  examples: [{ prompt: 'The <nation>', tokens: [{ text: ' is', reward: 0.5 }, { text: ' strong & free', reward: -0.2 }] }],
  seconds: 12,
};

describe('demo report', () => {
  it('is valid HTML with three SVG plots, escapes text, and shades tokens by reward', () => {
    const html = renderReport(synthetic);
    const { errors, count } = parseHtml(html);
    expect(errors).toEqual([]);
    expect(count('svg')).toBe(3);
    expect(count('table')).toBe(3);
    expect(count('polyline')).toBeGreaterThanOrEqual(4); // two lines per line chart
    expect(html).toContain('The &lt;nation&gt;');
    expect(html).toContain('strong &amp; free');
    expect(html).toMatch(/class="tok" style="background:rgb\(/);
  });
});

describe.skipIf(!existsSync(join(BUNDLED_MODEL, 'model.safetensors')))('pargs demo --quick on the bundled model', () => {
  it('prints the tables and writes a report that parses and contains its plots', async () => {
    const out = await mkdtemp(join(tmpdir(), 'pargs-demo-'));
    const stdout: string[] = [];
    const stderr: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const code = await main(['demo', '--quick', '--out', out], { out: (l) => stdout.push(l), err: (l) => stderr.push(l) }).finally(() => write.mockRestore());
    expect(code).toBe(0);
    const text = stdout.join('\n');
    for (const method of ['plain', 'best-of-2', 'ARGS', 'ARGS-G', 'PARGS', 'PARGS-G']) expect(text).toContain(`| ${method} `);
    expect(text).toMatch(/Prefix accuracy by position/);
    expect(stderr.join('\n')).toMatch(/training the partial-sequence reward model/);
    const html = await readFile(join(out, 'index.html'), 'utf8');
    const { errors, count } = parseHtml(html);
    expect(errors).toEqual([]);
    expect(count('svg')).toBe(3);
    const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as DemoResult;
    expect(results.methods).toHaveLength(6);
    expect(results.partial.prefixAccuracyByDecile).toHaveLength(10);
  }, 600_000);
});
