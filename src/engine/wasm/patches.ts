/**
 * Work-arounds for defects of the TensorFlow.js 4.22 wasm backend that training depends on.
 *
 * 1. `BatchMatMul` gradient. The stock gradient calls `matMul` with `transposeA`/`transposeB`,
 *    which the wasm kernel runs 10–50× slower than a plain product, so on wasm we materialise
 *    the transposes with `tf.transpose` (cheap, memory-bound) and call the fast plain product.
 *    The stock gradient also ignores broadcast batch dimensions (a `[m,k]` weight times a
 *    `[b,k,n]` batch yields a `[b,m,k]` gradient and the engine rejects its shape); ours sums
 *    the gradient over the broadcast axes, as TensorFlow's own gradient does.
 *    The gradient registry is global (keyed by kernel name, not backend), so the patch applies
 *    to every backend; it keeps the transpose flags on non-wasm backends, where transposed
 *    products are native and an explicit transpose would only add a copy.
 * 2. `UnsortedSegmentSum` has no wasm kernel, so `tf.gather`'s gradient (embedding training)
 *    throws. We register a JS kernel that reads the inputs once and accumulates in one pass.
 * 3. Batched `BatchMatMul` (attention) runs a naive loop; see batch-matmul.ts.
 * 4. `Slice`, `SplitV`, `Unpack` copy their whole input per output and `GatherV2` copies element by
 *    element; see copy-kernels.ts.
 */
import { tf } from '../tf.js';
import { registerWasmBatchMatMul } from './batch-matmul.js';
import { registerWasmCopyKernels } from './copy-kernels.js';

/** Marks our gradient config so a second copy of this module (dual package) skips re-registering. */
const PATCH_MARK = Symbol.for('pargs.batchMatMulGrad');

type MatMulAttrs = { transposeA: boolean; transposeB: boolean };

/** Swaps the last two axes; what `transposeX = true` means for a batched matMul. */
function swapLastTwo(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  const r = x.rank;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return tf.transpose(x, perm); // [..., p, q] -> [..., q, p]
}

/**
 * `op(x) @ op(y)` where op transposes the last two axes when its flag is set. With `explicit`,
 * transposes are materialised so the backend only ever runs the untransposed product.
 */
function product(x: tf.Tensor, y: tf.Tensor, tx: boolean, ty: boolean, explicit: boolean): tf.Tensor {
  if (!explicit) return tf.matMul(x, y, tx, ty);
  if (tx && ty) {
    // xᵀ·yᵀ = (y·x)ᵀ: one transpose of the result instead of two of the operands.
    return swapLastTwo(tf.matMul(y, x)); // [..., rows(x)ᵀ, cols(y)ᵀ]
  }
  return tf.matMul(tx ? swapLastTwo(x) : x, ty ? swapLastTwo(y) : y);
}

/**
 * Sums `grad` (shaped like the broadcast output batch) down to an input's `shape`: over batch
 * axes the input lacks (lower rank) or has as 1 while the output does not, then reshapes.
 */
export function reduceToShape(grad: tf.Tensor, shape: number[]): tf.Tensor {
  const lead = grad.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < grad.rank; i++) {
    const inDim = i < lead ? undefined : shape[i - lead];
    if (inDim === undefined || (inDim === 1 && grad.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length > 0 ? tf.sum(grad, axes) : grad; // broadcast axes removed
  return tf.util.arraysEqual(summed.shape, shape) ? summed : tf.reshape(summed, shape);
}

/** Gradient of `C = op(A)·op(B)`; `dy` has C's (broadcast) shape. */
function batchMatMulGrad(dyIn: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) {
  const dy = dyIn as tf.Tensor; // BatchMatMul has one output
  const [a, b] = saved;
  const { transposeA, transposeB } = attrs as unknown as MatMulAttrs;
  const explicit = tf.getBackend() === 'wasm';
  // Derivation with A' = op(A), B' = op(B): dA' = dy·B'ᵀ and dB' = A'ᵀ·dy, then undo op.
  const gradA = (): tf.Tensor => {
    const g = !transposeA
      ? product(dy, b, false, !transposeB, explicit) // dy·B'ᵀ: [..., m, k]
      : product(b, dy, transposeB, true, explicit); // (dy·B'ᵀ)ᵀ = B'·dyᵀ: [..., k, m]
    return reduceToShape(g, a.shape);
  };
  const gradB = (): tf.Tensor => {
    const g = !transposeB
      ? product(a, dy, !transposeA, false, explicit) // A'ᵀ·dy: [..., k, n]
      : product(dy, a, true, transposeA, explicit); // (A'ᵀ·dy)ᵀ = dyᵀ·A': [..., n, k]
    return reduceToShape(g, b.shape);
  };
  return { a: gradA, b: gradB };
}

/** Registers the BatchMatMul gradient once per process (idempotent). */
export function registerBatchMatMulGradient(): void {
  const existing = tf.getGradient(tf.BatchMatMul) as (tf.GradConfig & { [PATCH_MARK]?: true }) | undefined;
  if (existing?.[PATCH_MARK]) return;
  const config: tf.GradConfig & { [PATCH_MARK]: true } = {
    kernelName: tf.BatchMatMul,
    inputsToSave: ['a', 'b'],
    gradFunc: batchMatMulGrad,
    [PATCH_MARK]: true,
  };
  tf.registerGradient(config);
}

/** The parts of the wasm backend the kernel uses (typed structurally: the class is internal). */
interface WasmBackendLike {
  readSync(dataId: tf.DataId): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.TypedArray;
}

/**
 * `out[s, ...] = Σ_{i: ids[i] = s} x[i, ...]`, segment ids covering x's leading axes; ids outside
 * [0, numSegments) are dropped, as on the cpu backend. One pass over x: O(x.size).
 */
function unsortedSegmentSumWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = Number(args.attrs?.numSegments);
  const backend = args.backend as WasmBackendLike;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum (pargs wasm kernel) supports float32/int32, got ${x.dtype}`);
  }
  // readSync copies out of the wasm heap, so these stay valid if makeOutput grows the heap.
  const xs = backend.readSync(x.dataId) as Float32Array | Int32Array;
  const ids = backend.readSync(segmentIds.dataId) as Int32Array;
  const inner = ids.length === 0 ? 0 : xs.length / ids.length; // elements per segment row
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  const acc = x.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) acc[dst + j] += xs[src + j];
  }
  const out = backend.makeOutput(outShape, x.dtype); // [numSegments, ...x.shape[ids.rank:]]
  // malloc'ed memory is not zeroed: every element is written by this set.
  backend.typedArrayFromHeap(out).set(acc);
  return out;
}

/** Registers the wasm `UnsortedSegmentSum` kernel unless one exists (ours or a future tfjs one). */
export function registerWasmUnsortedSegmentSum(): void {
  if (tf.getKernel(tf.UnsortedSegmentSum, 'wasm') !== undefined) return;
  tf.registerKernel({
    kernelName: tf.UnsortedSegmentSum,
    backendName: 'wasm',
    kernelFunc: unsortedSegmentSumWasm as unknown as tf.KernelFunc,
  });
}

/** Everything the wasm backend needs; safe to call any number of times. */
export function applyWasmPatches(): void {
  registerBatchMatMulGradient();
  registerWasmUnsortedSegmentSum();
  registerWasmBatchMatMul();
  registerWasmCopyKernels();
}
