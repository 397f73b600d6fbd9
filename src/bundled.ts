/**
 * Paths to what ships inside the package: the bundled model and the small preference file of the quick
 * start. Resolved from this module's own location, so they work from any working directory and from an
 * installed `node_modules/pargs` as well as from a checkout (src/ and dist/ sit one level below the root).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OptionError } from './errors.js';

const BUNDLED_MODELS = ['sotu-lm'] as const;
const BUNDLED_DATA = ['sotu-pairs.jsonl'] as const;

export type BundledModel = (typeof BUNDLED_MODELS)[number];
export type BundledData = (typeof BUNDLED_DATA)[number];

function packagePath(relative: string): string {
  return fileURLToPath(new URL(`../${relative}`, import.meta.url));
}

/** The folder of a model shipped with pargs (default `sotu-lm`), for `loadCausalLM`. */
export function bundledModelPath(name: BundledModel = 'sotu-lm'): string {
  if (!(BUNDLED_MODELS as readonly string[]).includes(name)) {
    throw new OptionError(`bundledModelPath: no bundled model ${JSON.stringify(name)}; bundled: ${BUNDLED_MODELS.join(', ')}`);
  }
  return checked(packagePath(`models/${name}`));
}

/**
 * A data file shipped with pargs (default `sotu-pairs.jsonl`: 342 preference pairs of two samples of the
 * bundled model per State of the Union opening, the AFINN-preferred one as `chosen`), for `loadPreferences`.
 */
export function bundledDataPath(name: BundledData = 'sotu-pairs.jsonl'): string {
  if (!(BUNDLED_DATA as readonly string[]).includes(name)) {
    throw new OptionError(`bundledDataPath: no bundled data file ${JSON.stringify(name)}; bundled: ${BUNDLED_DATA.join(', ')}`);
  }
  return checked(packagePath(`data/${name}`));
}

function checked(path: string): string {
  if (!existsSync(path)) throw new OptionError(`pargs: the bundled file ${path} is missing; reinstall the package`);
  return path;
}
