/**
 * How many bytes of tensor memory a computation may still allocate. On wasm every tensor lives in one
 * WebAssembly heap of at most 4 GiB − 64 KiB (the backend's `getHeapMax()`); running past it aborts the
 * whole module ("memory access out of bounds"), so work is sized against this number before it starts.
 * Native and cpu backends allocate from the system, so there the limit is the free system memory.
 * `PARGS_MEMORY_LIMIT` (bytes, or with a KiB/MiB/GiB suffix) caps the total for every backend.
 */
import { freemem } from 'node:os';
import { OptionError } from '../errors.js';
import { tf } from './tf.js';

/** tfjs-backend-wasm 4.22's emscripten heap maximum (`getHeapMax()` in its glue code). */
export const WASM_HEAP_MAX_BYTES = 4294901760;

/**
 * Share of the available bytes a plan may use: the estimates ignore allocator fragmentation and the
 * small tensors around the main computation.
 */
export const USABLE_FRACTION = 0.75;

export interface MemoryBudget {
  /** Bytes a new computation may allocate on top of the tensors that exist now. */
  availableBytes: number;
  /** Tensor bytes held now (weights, caches, ...). */
  inUseBytes: number;
  /** Where the limit comes from, for error messages. */
  limit: string;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

/** Parses PARGS_MEMORY_LIMIT: "2147483648", "512MiB", "2GiB". */
export function parseMemoryLimit(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match ? UNITS[match[2].toLowerCase()] : undefined;
  if (!match || unit === undefined || !(Number(match[1]) > 0)) {
    throw new OptionError(`PARGS_MEMORY_LIMIT must be a positive byte count such as 2147483648, 512MiB or 2GiB, got ${JSON.stringify(text)}`);
  }
  return Math.floor(Number(match[1]) * unit);
}

/** Formats a byte count for messages: "1.5 GiB", "300 MiB". */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
  return `${Math.ceil(bytes / 1024)} KiB`;
}

/** Heap bytes the wasm backend holds outside tfjs' tensor count, each for as long as a tensor lives. */
const heldOnHeap = new Set<{ tensor: tf.Tensor; bytes: number }>();

/**
 * Counts `bytes` of wasm heap held on behalf of `tensor` until it is disposed: XNNPACK's packed copy of a
 * model's matMul weights (lm/model-memory.ts), which tf.memory() does not see. Without it, a feature
 * batch planned against "heap minus tensors" could overrun the heap by the packed copies' size.
 */
export function holdHeapBytes(tensor: tf.Tensor, bytes: number): void {
  heldOnHeap.add({ tensor, bytes });
}

function heldHeapBytes(): number {
  let sum = 0;
  for (const held of heldOnHeap) {
    if (held.tensor.isDisposed) heldOnHeap.delete(held);
    else sum += held.bytes;
  }
  return sum;
}

/** The budget now, on the current backend. */
export function tensorMemoryBudget(): MemoryBudget {
  const tensorBytes = tf.memory().numBytes;
  const env = process.env.PARGS_MEMORY_LIMIT;
  if (env !== undefined && env !== '') {
    // A cap on tensor bytes (its documented meaning), so the heap's own copies are not charged to it.
    const total = parseMemoryLimit(env);
    return { availableBytes: Math.max(0, total - tensorBytes), inUseBytes: tensorBytes, limit: `PARGS_MEMORY_LIMIT = ${formatBytes(total)}` };
  }
  if (tf.getBackend() === 'wasm') {
    const inUseBytes = tensorBytes + heldHeapBytes();
    return { availableBytes: Math.max(0, WASM_HEAP_MAX_BYTES - inUseBytes), inUseBytes, limit: `the wasm heap maximum of ${formatBytes(WASM_HEAP_MAX_BYTES)}` };
  }
  const inUseBytes = tensorBytes;
  return { availableBytes: freemem(), inUseBytes, limit: `free system memory (${formatBytes(freemem())})` };
}

/** Current size of the wasm heap in bytes (it grows, never shrinks), or undefined on other backends. */
export function wasmHeapBytes(): number | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.length;
}
