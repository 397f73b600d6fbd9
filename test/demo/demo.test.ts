/**
 * `pargs demo --quick --json` end to end on the bundled model: the whole result as JSON on the last
 * stdout line, every reward model with the same optimizer steps, and a report that parses as HTML and
 * holds its plots. Also the report renderer and SVG charts on a synthetic two-seed result.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.js';
import { parse, type DefaultTreeAdapterMap } from 'parse5';
import { describe, expect, it, vi } from 'vitest';
import { bundledModelPath } from '../../src/bundled.js';
import { main } from '../../src/cli/main.js';
import { summarizeSeeds } from '../../src/demo/aggregate.js';
import { DEMO_CONFIGS } from '../../src/demo/config.js';
import type { DemoResult, SeedResult } from '../../src/demo/pipeline.js';
import { renderReport } from '../../src/demo/report.js';
import { PALETTE } from '../../src/demo/svg.js';
import { prefixAccuracyTable, resultsTable } from '../../src/demo/tables.js';

type Node = DefaultTreeAdapterMap['node'];

/** Parses HTML with the WHATWG parser; returns its parse errors, the elements by tag name and all text. */
function parseHtml(html: string): { errors: string[]; count: (tag: string) => number; attrs: (name: string) => string[] } {
  const errors: string[] = [];
  const doc = parse(html, { onParseError: (e) => errors.push(`${e.code} at line ${e.startLine}`) });
  const tags: string[] = [];
  const attrValues: { name: string; value: string }[] = [];
  const walk = (n: Node): void => {
    if ('tagName' in n) {
      tags.push(n.tagName);
      attrValues.push(...n.attrs);
    }
    if ('childNodes' in n) n.childNodes.forEach(walk);
  };
  walk(doc as unknown as Node);
  return { errors, count: (tag) => tags.filter((t) => t === tag).length, attrs: (name) => attrValues.filter((a) => a.name === name).map((a) => a.value) };
}

const stat = (mean: number) => ({ mean, stderr: 0.01, n: 10 });
const diag = (acc: number[]) => ({ pairs: 10, fullAccuracy: 0.8, prefixAccuracy: 0.7, prefixAccuracyByDecile: acc, meanMargin: 1, rewardMean: 0, rewardStd: 1, prefixLoss: 0.6 });
const rm = (role: 'partial' | 'full' | 'judge' | 'cd' | 'vocab', acc: number[]) => ({ role, mode: role === 'partial' || role === 'cd' || role === 'vocab' ? ('partial' as const) : ('full' as const), trainPairs: 32, examplesPerEpoch: 32, epochs: 2, batchSize: 16, steps: 4, diagnostics: diag(acc) });
const seedResult = (seed: number, shift: number): SeedResult => ({
  seed,
  preferences: { pairs: 40, ties: 8, guideTrain: 22, guideEval: 6, judgeTrain: 12, baseScore: 0.1 },
  rewardModels: {
    partial: rm('partial', [0.6, 0.7, 0.7, 0.8, 0.8, 0.8, 0.8, 0.9, 0.9, 0.9].map((a) => a - shift)),
    full: rm('full', [0.5, 0.5, 0.4, 0.5, 0.6, 0.6, 0.7, 0.7, 0.8, Number.NaN]),
    judge: rm('judge', new Array(10).fill(0.6)),
    cd: rm('cd', new Array(10).fill(0.55)),
    vocab: rm('vocab', new Array(10).fill(0.65)),
  },
  prefixPairsByDecile: new Array(10).fill(6),
  methods: ['plain', 'PARGS'].map((method, i) => ({ method, gold: stat(0.1 * i + shift), vader: stat(0.2 * i), evalRm: stat(i), winTieVsPlainEvalRm: 0.6, winVsPlainGold: { win: 0.5, tie: 0.2, lose: 0.3 }, argsDiversity: 0.7, pooledDiversity: 0.8, perplexity: 50, kl: i ? 1.2 : null, tokensPerSecond: 100 / (i + 1), modelCallsPerResponse: 11, responses: ['a <b> & c'] })),
  betaSweep: [0, 2].map((beta) => ({ beta, pargs: { gold: stat(beta / 10), evalRm: stat(beta), argsDiversity: 0.8 }, args: { gold: stat(beta / 20), evalRm: stat(beta / 2), argsDiversity: 0.8 } })),
  examples: [{ prompt: 'The <nation>', tokens: [{ text: ' is', reward: 0.5 }, { text: ' strong & free', reward: -0.2 }] }],
  seconds: 12,
});
const perSeed = [seedResult(1, 0), seedResult(2, 0.1)];
const synthetic = (config = DEMO_CONFIGS.default): DemoResult => ({ config, task: 'sentiment', model: 'models/x', backend: 'WebAssembly', summary: summarizeSeeds(perSeed), perSeed, examples: perSeed[0].examples, seconds: 24 });

describe('demo report', () => {
  it('is valid HTML with three SVG plots, escapes text, and shades tokens by reward with values shown', () => {
    const html = renderReport(synthetic());
    const { errors, count } = parseHtml(html);
    expect(errors).toEqual([]);
    expect(count('svg')).toBe(3);
    expect(count('table')).toBe(4);
    expect(count('polyline')).toBeGreaterThanOrEqual(4); // two lines per line chart
    expect(html).toContain('The &lt;nation&gt;');
    expect(html).toContain('strong &amp; free<sub>-0.20</sub>');
    expect(html).toMatch(/class="tok" style="background:rgb\(/);
    expect(html).not.toMatch(/class="banner"/);
    // The synthetic evaluation RM has held-out accuracy 0.8: no near-chance warning.
    expect(html).toContain('ranks 0.80 of the held-out pairs');
  });

  it('says what the error bars are, draws them from the across-seed s.e., and uses the Okabe–Ito palette', () => {
    const html = renderReport(synthetic());
    const { attrs } = parseHtml(html);
    expect(html.match(/error bars: ± s\.e\. across 2 seeds/g)?.length).toBe(3);
    expect(attrs('class').filter((c) => c === 'err').length).toBeGreaterThan(0);
    const colours = [...attrs('fill'), ...attrs('stroke')].filter((c) => c.startsWith('#') && !/^#(999|333|e5e5e5)$/i.test(c));
    expect(colours.length).toBeGreaterThan(0);
    for (const c of colours) expect(PALETTE).toContain(c);
    expect(html).toContain('n = 12 prefix pairs per tenth');
    // The prefix-accuracy table gives n per tenth.
    expect(prefixAccuracyTable(synthetic())).toMatch(/\| n \(prefix pairs, all seeds\) +\| 12 /);
  });

  it('puts a smoke-test banner on --quick reports', () => {
    const { errors } = parseHtml(renderReport(synthetic(DEMO_CONFIGS.quick)));
    expect(errors).toEqual([]);
    expect(renderReport(synthetic(DEMO_CONFIGS.quick))).toMatch(/<p class="banner" role="alert"><strong>--quick run: a smoke test\.<\/strong>/);
  });

  it('tables give mean ± s.e. across seeds with the within-seed s.e. in parentheses', () => {
    // plain AFINN: seeds 0 and 0.1 → mean 0.05, s.e. 0.05; within-seed s.e. 0.01 in both.
    expect(resultsTable(synthetic())).toMatch(/\| plain +\| 0\.050 ± 0\.050 \(0\.010\) /);
  });
});

describe('pargs demo --task', () => {
  it('refuses an unknown task with exit code 2, naming the choices', async () => {
    const stderr: string[] = [];
    const code = await main(['demo', '--quick', '--task', 'poetry', '--out', join(tmpdir(), 'pargs-demo-never')], { out: () => {}, err: (l) => stderr.push(l) });
    expect(code).toBe(2);
    expect(stderr.join('\n')).toMatch(/--task must be one of sentiment, ending, got "poetry"/);
  });

  it('names the ending judge in the tables and the report, and lists the CD value head', () => {
    const r = { ...synthetic(), task: 'ending' as const };
    expect(resultsTable(r)).toMatch(/^\| method +\| AFINN of last 6 words \(gold\) /);
    expect(renderReport(r)).toContain("AFINN valence per word of the response's last 6 words only");
    expect(prefixAccuracyTable(r)).toMatch(/\| CD value head \(MSE onto full-RM scores\) +\| 0\.55 /);
  });
});

describe('pargs demo --seeds', () => {
  it('rejects a seed count below 1 with exit code 2 and a message naming the value', async () => {
    const stderr: string[] = [];
    const code = await main(['demo', '--quick', '--seeds', '0'], { out: () => {}, err: (l) => stderr.push(l) });
    expect(code).toBe(2);
    expect(stderr.join('\n')).toMatch(/--seeds must be at least 1, got 0/);
  });
});

describe.skipIf(!existsSync(join(bundledModelPath(), 'model.safetensors')))('pargs demo --quick --json on the bundled model', () => {
  it('prints the whole result as JSON on the last line; all reward models ran the same optimizer steps', async () => {
    const out = await mkdtemp(join(tmpdir(), 'pargs-demo-'));
    const stdout: string[] = [];
    const stderr: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const tensorsBefore = tf.memory().numTensors;
    const code = await main(['demo', '--quick', '--json', '--out', out], { out: (l) => stdout.push(l), err: (l) => stderr.push(l) }).finally(() => write.mockRestore());
    expect(code).toBe(0);
    expect(tf.memory().numTensors).toBe(tensorsBefore); // three reward models, the LM: all disposed
    const lines = stdout.join('\n').trim().split('\n');
    const result = JSON.parse(lines[lines.length - 1]) as DemoResult;
    const steps = ['partial', 'full', 'judge', 'cd', 'vocab'].map((k) => result.perSeed[0].rewardModels[k as 'partial'].steps);
    expect(steps[0]).toBeGreaterThan(0);
    expect(steps).toEqual([steps[0], steps[0], steps[0], steps[0], steps[0]]);
    // One example per pair against one per prefix: the full RM needs more epochs for the same steps.
    const { partial, full } = result.perSeed[0].rewardModels;
    expect(partial.examplesPerEpoch).toBeGreaterThan(full.examplesPerEpoch);
    expect(full.epochs).toBeGreaterThan(partial.epochs);
    expect(result.summary.rewardModels.full.prefixAccuracyByDecile).toHaveLength(10);
    expect(result.summary.seeds).toEqual([1]);
    expect(result.summary.methods.map((m) => m.method)).toEqual(['plain', 'best-of-2', 'ARGS', 'ARGS-G', 'CD', 'PARGS', 'PARGS-G', 'PARGS, vocab head, top-k', 'PARGS, vocab head, exact']);
    for (const m of result.summary.methods) expect(Number.isFinite(m.evalRm.mean) && Number.isFinite(m.argsDiversity.mean)).toBe(true);
    const p = result.perSeed[0].preferences;
    expect(p.guideTrain + p.guideEval + p.judgeTrain).toBe(p.pairs);
    expect(stderr.join('\n')).toMatch(/training the evaluation reward model/);
    const html = await readFile(join(out, 'index.html'), 'utf8');
    const { errors, count } = parseHtml(html);
    expect(errors).toEqual([]);
    expect(count('svg')).toBe(3);
    expect(html).toMatch(/--quick run: a smoke test/);
    expect(JSON.parse(await readFile(join(out, 'results.json'), 'utf8'))).toMatchObject({ summary: { seeds: [1] } });
  }, 600_000);
});
