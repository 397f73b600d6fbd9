/**
 * Holds the backbone features of every compared prefix, per pair and side, [n, d] each. Kept in memory
 * as float32 until a byte budget is reached; past it, blocks are appended to a float16 file on disk and
 * read back with positional reads, so the feature pass never needs more memory than the budget.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DisposedError } from '../errors.js';
import { decodeF16, encodeF16 } from '../io/float16.js';

interface DiskBlock {
  offset: number;
  rows: number;
}

export class FeatureStore {
  private readonly memory = new Map<string, Float32Array>();
  private readonly disk = new Map<string, DiskBlock>();
  private memoryBytes = 0;
  private fd: number | null = null;
  private spillDir: string | null = null;
  private fileBytes = 0;
  private disposed = false;

  constructor(
    readonly dim: number,
    /** Bytes of float32 features kept in memory before spilling to disk (default 1 GiB). */
    readonly memoryBudgetBytes = 1 << 30,
  ) {}

  private static key(pair: number, side: 0 | 1): string {
    return `${pair}:${side}`;
  }

  /** Stores `rows` ([n, d], row-major) for one side of one pair. */
  put(pair: number, side: 0 | 1, rows: Float32Array): void {
    this.assertLive('put');
    const key = FeatureStore.key(pair, side);
    if (this.memoryBytes + rows.byteLength <= this.memoryBudgetBytes) {
      this.memory.set(key, rows);
      this.memoryBytes += rows.byteLength;
      return;
    }
    if (this.fd === null) {
      this.spillDir = mkdtempSync(join(tmpdir(), 'pargs-features-'));
      this.fd = openSync(join(this.spillDir, 'features.f16'), 'w+');
    }
    const half = encodeF16(rows);
    writeSync(this.fd, new Uint8Array(half.buffer, half.byteOffset, half.byteLength), 0, half.byteLength, this.fileBytes);
    this.disk.set(key, { offset: this.fileBytes, rows: rows.length / this.dim });
    this.fileBytes += half.byteLength;
  }

  get(pair: number, side: 0 | 1): Float32Array {
    this.assertLive('get');
    const key = FeatureStore.key(pair, side);
    const inMemory = this.memory.get(key);
    if (inMemory) return inMemory;
    const block = this.disk.get(key);
    if (!block || this.fd === null) throw new Error(`FeatureStore: no features for pair ${pair}, side ${side}`);
    const bytes = new Uint8Array(block.rows * this.dim * 2);
    readSync(this.fd, bytes, 0, bytes.byteLength, block.offset);
    return decodeF16(new Uint16Array(bytes.buffer));
  }

  has(pair: number, side: 0 | 1): boolean {
    const key = FeatureStore.key(pair, side);
    return this.memory.has(key) || this.disk.has(key);
  }

  /** Bytes held in memory and on disk. */
  get usage(): { memoryBytes: number; diskBytes: number } {
    return { memoryBytes: this.memoryBytes, diskBytes: this.fileBytes };
  }

  /** True after `dispose()`: the features are gone (memory cleared, spill file deleted). */
  get isDisposed(): boolean {
    return this.disposed;
  }

  private assertLive(fn: string): void {
    if (this.disposed) throw new DisposedError(`FeatureStore.${fn}: this feature store was disposed; extract the features again (extractPrefixFeatures or loadFeatureShards)`);
  }

  dispose(): void {
    this.disposed = true;
    if (this.fd !== null) closeSync(this.fd);
    if (this.spillDir) rmSync(this.spillDir, { recursive: true, force: true });
    this.fd = null;
    this.memory.clear();
    this.disk.clear();
  }
}
