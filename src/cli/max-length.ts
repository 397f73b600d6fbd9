/**
 * `--max-length` of the training commands: pairs longer than this are dropped (and counted). It defaults
 * to 512 tokens or the backbone's context, whichever is smaller, and a value past the context is refused,
 * since the backbone has no positions for it (sampling refuses the same way).
 */
import { OptionError } from '../errors.js';
import type { CausalLM } from '../lm/causal-lm.js';

export function resolveMaxLength(flag: number | undefined, lm: CausalLM, command: string): number {
  const context = lm.config.maxPositions;
  if (flag === undefined) return Math.min(512, context);
  if (flag > context) throw new OptionError(`pargs ${command}: --max-length ${flag} is longer than the model's context of ${context} tokens; use --max-length ${context} or less`);
  return flag;
}
