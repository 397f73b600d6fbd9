/**
 * Past keys and values of every layer, plus the per-row bookkeeping a continuation needs (which cache
 * slots are real tokens, and the next position id of each row).
 *
 * Keys are stored transposed, [B, Hkv, hd, T], so q·Kᵀ is a plain matMul with no per-step transpose;
 * values are [B, Hkv, T, hd]. A cache is immutable: a forward step returns a new cache and leaves the
 * old one intact (guided decoding scores candidates against a prefix it keeps), so whoever holds a cache
 * disposes it.
 */
import { tf } from '../engine/tf.js';
import { DisposedError, OptionError } from '../errors.js';

export interface LayerKV {
  keysT: tf.Tensor4D; // [B, Hkv, hd, T]
  values: tf.Tensor4D; // [B, Hkv, T, hd]
}

export class KVCache {
  private disposed = false;

  constructor(
    readonly layers: LayerKV[],
    /** keyMask[b][j] = 1 when cache slot j of row b holds a real token (0 = left padding). */
    readonly keyMask: Uint8Array[],
    /** Position id the next token of each row gets (the count of its real tokens so far). */
    readonly nextPosition: number[],
    /**
     * The model layer `layers[0]` belongs to: a cache may hold only a range of layers (the shared lower
     * layers, or one model's top layers, in partially fused guided decoding; see partial-fuse.ts).
     */
    readonly firstLayer = 0,
  ) {}

  get batchSize(): number {
    return this.keyMask.length;
  }

  /** Number of slots (tokens, padding included) per row. */
  get length(): number {
    return this.keyMask[0]?.length ?? 0;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * A new cache made of the given rows of this one, in that order (rows may repeat). Reorders rows,
   * drops finished ones, or broadcasts each row to k candidate rows. This cache stays valid.
   */
  selectRows(rows: readonly number[]): KVCache {
    this.assertLive('selectRows');
    if (rows.length === 0) throw new OptionError('KVCache.selectRows: the row list is empty');
    for (const r of rows) {
      if (!Number.isInteger(r) || r < 0 || r >= this.batchSize) {
        throw new OptionError(`KVCache.selectRows: row ${r} is out of range for a cache of ${this.batchSize} rows`);
      }
    }
    const layers = tf.tidy(() => {
      const index = tf.tensor1d(Int32Array.from(rows), 'int32');
      return this.layers.map((l) => ({
        keysT: tf.gather(l.keysT, index, 0) as tf.Tensor4D, // [rows, Hkv, hd, T]
        values: tf.gather(l.values, index, 0) as tf.Tensor4D, // [rows, Hkv, T, hd]
      }));
    });
    return new KVCache(
      layers,
      rows.map((r) => this.keyMask[r].slice()),
      rows.map((r) => this.nextPosition[r]),
      this.firstLayer,
    );
  }

  /** Each row repeated k times in a row: [r0 × k, r1 × k, …] — the candidate layout of guided decoding. */
  broadcast(k: number): KVCache {
    if (!Number.isInteger(k) || k < 1) throw new OptionError(`KVCache.broadcast: k must be a positive integer, got ${k}`);
    const rows: number[] = [];
    for (let r = 0; r < this.batchSize; r++) for (let j = 0; j < k; j++) rows.push(r);
    return this.selectRows(rows);
  }

  /**
   * A new cache: this one plus, for each row b, candidate `chosen[b]` of a candidates forward
   * (`candidateKV`: keys [B, Hkv, hd, k], values [B, Hkv, k, hd] per layer). This cache stays valid.
   */
  appendCandidate(candidateKV: readonly LayerKV[], chosen: readonly number[]): KVCache {
    this.assertLive('appendCandidate');
    if (chosen.length !== this.batchSize) throw new OptionError(`KVCache.appendCandidate: ${chosen.length} choices for ${this.batchSize} rows`);
    if (candidateKV.length !== this.layers.length) throw new OptionError(`KVCache.appendCandidate: ${candidateKV.length} layers of candidates for a ${this.layers.length}-layer cache`);
    const k = candidateKV[0].values.shape[2];
    chosen.forEach((j, b) => {
      if (!Number.isInteger(j) || j < 0 || j >= k) throw new OptionError(`KVCache.appendCandidate: choice ${j} of row ${b} is not one of ${k} candidates`);
    });
    const layers = tf.tidy(() => {
      const B = this.batchSize;
      const flat = tf.tensor1d(Int32Array.from(chosen, (j, b) => b * k + j), 'int32'); // [B]
      return this.layers.map((past, li) => {
        const { keysT, values } = candidateKV[li];
        const [, Hkv, hd] = keysT.shape;
        // Rows of [B·k, …] are (row, candidate) pairs; gather picks each row's chosen candidate.
        const keyRows = tf.reshape(tf.transpose(keysT, [0, 3, 1, 2]), [B * k, Hkv, hd]); // [B·k, Hkv, hd]
        const valueRows = tf.reshape(tf.transpose(values, [0, 2, 1, 3]), [B * k, Hkv, hd]); // [B·k, Hkv, hd]
        const newKey = tf.reshape(tf.gather(keyRows, flat), [B, Hkv, hd, 1]); // [B, Hkv, hd, 1]
        const newValue = tf.reshape(tf.gather(valueRows, flat), [B, Hkv, 1, hd]); // [B, Hkv, 1, hd]
        return {
          keysT: tf.concat([past.keysT, newKey], 3) as tf.Tensor4D, // [B, Hkv, hd, T + 1]
          values: tf.concat([past.values, newValue], 2) as tf.Tensor4D, // [B, Hkv, T + 1, hd]
        };
      });
    });
    const keyMask = this.keyMask.map((m) => {
      const extended = new Uint8Array(m.length + 1);
      extended.set(m);
      extended[m.length] = 1;
      return extended;
    });
    return new KVCache(layers, keyMask, this.nextPosition.map((p) => p + 1), this.firstLayer);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const l of this.layers) {
      l.keysT.dispose();
      l.values.dispose();
    }
  }

  assertLive(what: string): void {
    if (this.disposed) throw new DisposedError(`KVCache.${what}: this cache was disposed; continue from a cache you have not disposed (prefill or step returns a new one)`);
  }
}
