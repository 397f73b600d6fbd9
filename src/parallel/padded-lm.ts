/**
 * A view of a CausalLM whose `prefill` left-pads every batch to a fixed length. Results of a row depend
 * on how far it is left-padded (attention sums run over the padded length), not on which other rows
 * share its batch; so a chunk of prompts padded to the length the whole list pads to computes exactly
 * the numbers the whole list computes in one batch. The view shares the weights; disposing it is a no-op.
 */
import { OptionError } from '../errors.js';
import { CausalLM } from '../lm/causal-lm.js';
import type { KVCache } from '../lm/kv-cache.js';
import type { tf } from '../engine/tf.js';

export class PaddedCausalLM extends CausalLM {
  constructor(
    readonly base: CausalLM,
    /** Every prefill batch is left-padded to this many tokens. */
    readonly padTo: number,
  ) {
    super(base.config, base.tokenizer, base.generation, base.transformer, base.backend, base.source, base.fingerprint);
  }

  override prefill(rows: readonly (readonly number[])[]): { logits: tf.Tensor2D; hidden: tf.Tensor3D; cache: KVCache } {
    if (rows.length === 0) throw new OptionError('prefill: no prompts given');
    rows.forEach((r, i) => {
      if (r.length === 0 || r.length > this.padTo) throw new OptionError(`prefill: prompt ${i} has ${r.length} tokens; a padded chunk takes 1 to ${this.padTo}`);
    });
    const pad = (r: readonly number[]) => this.padTo - r.length;
    const ids = rows.map((r) => [...new Array<number>(pad(r)).fill(this.padId), ...r]); // [B, padTo]
    const mask = rows.map((r) => [...new Array<number>(pad(r)).fill(0), ...new Array<number>(r.length).fill(1)]); // [B, padTo]
    const out = this.forward({ ids, mask, logits: 'last', returnCache: true });
    return { logits: out.logits as tf.Tensor2D, hidden: out.hidden, cache: out.cache as KVCache };
  }

  override dispose(): void {}
}
