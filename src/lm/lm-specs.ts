/**
 * Option specs for the language-model types (`lm`, `backbone`, `tokenizer` keys), beside the classes they
 * check, so the ground floor's `option-specs.ts` knows no domain type.
 */
import { instance, type Spec } from '../options.js';
import { CausalLM } from './causal-lm.js';
import { PargsTokenizer } from './tokenizer.js';

export function causalLM(): Spec {
  return instance(() => CausalLM, 'a CausalLM (from loadCausalLM)');
}

export function tokenizer(): Spec {
  return instance(() => PargsTokenizer, 'a PargsTokenizer (lm.tokenizer)');
}
