/**
 * Faster replacements for five data-movement kernels of the tfjs 4.22 wasm backend: `Slice`, `SplitV`,
 * `Unpack`, `GatherV2` and `Concat`. Each moves the same float32/int32/bool values as the stock kernel, so results
 * are bit-identical; only the way the bytes are copied changes. Strings go to the stock kernels.
 *
 * - The stock `Slice`, `SplitV` and `Unpack` are JS kernels that begin with `backend.readSync(x)`, which
 *   copies the *whole* input out of the wasm heap for every output. Cutting the fused [B·T, 3d] q/k/v
 *   projection into q, k and v copied it three times (~8 ms per layer at GPT-2-small prefill shapes).
 *   Ours read the input through a view of the heap and copy only the returned elements.
 * - The stock `GatherV2` is a C++ loop that computes every element's address separately (~35 ns per
 *   element here): broadcasting a GPT-2-small KV cache of 64 tokens to 10 candidate rows took 0.4–0.6 s,
 *   the token-embedding lookup of 512 tokens 15 ms. Ours copies each gathered slice as one block.
 * - The stock `Concat` copies every run with `set(subarray(…))` (~50 ns a call, however short the run);
 *   appending one token to a cache of transposed keys [B, H, hd, T] is B·H·hd runs of T and of 1
 *   elements. Ours copies short runs with a plain loop.
 */
import { tf } from '../tf.js';

/** The parts of the wasm backend these kernels use (typed structurally: the class is internal). */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.TypedArray;
}

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

type Kernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/** Marks our kernels, so registering twice keeps the stock kernels as the string fallback. */
const COPY_MARK = Symbol.for('pargs.wasmCopyKernels');

const product = (xs: number[]): number => xs.reduce((p, d) => p * d, 1);

/** Copies `run` elements; a plain loop beats `set(subarray(…))` (~50 ns per call) below ~32 elements. */
function copyRun(src: tf.TypedArray, from: number, dst: tf.TypedArray, to: number, run: number): void {
  if (run < 32) {
    for (let j = 0; j < run; j++) dst[to + j] = src[from + j];
  } else {
    dst.set(src.subarray(from, from + run), to);
  }
}

/** Copies x[begin : begin + size] into `out`, row-major; trailing axes taken whole merge into one run. */
function copySlice(xVals: tf.TypedArray, shape: number[], begin: number[], size: number[], out: tf.TypedArray): void {
  const rank = shape.length;
  if (out.length === 0) return;
  if (rank === 0) {
    out[0] = xVals[0];
    return;
  }
  const strides = new Array<number>(rank);
  strides[rank - 1] = 1;
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1];
  let k = rank - 1; // runs start at axis k: every later axis is taken whole
  while (k > 0 && size[k] === shape[k] && begin[k] === 0) k--;
  const run = size[k] * strides[k];
  const index = new Array<number>(k).fill(0); // odometer over axes 0 … k-1
  for (let o = 0; ; o += run) {
    let offset = begin[k] * strides[k];
    for (let i = 0; i < k; i++) offset += (begin[i] + index[i]) * strides[i];
    copyRun(xVals, offset, out, o, run);
    let axis = k - 1;
    while (axis >= 0 && ++index[axis] === size[axis]) index[axis--] = 0;
    if (axis < 0) break;
  }
}

/** Allocates every output first (allocation may grow the heap and detach views), then copies. */
function slices(backend: WasmBackendLike, x: tf.TensorInfo, parts: { begin: number[]; size: number[] }[]): tf.TensorInfo[] {
  const outs = parts.map((p) => backend.makeOutput(p.size, x.dtype));
  const xVals = backend.typedArrayFromHeap(x);
  parts.forEach((p, i) => copySlice(xVals, x.shape, p.begin, p.size, backend.typedArrayFromHeap(outs[i])));
  return outs;
}

function sliceKernel(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, args.attrs?.begin as number[], args.attrs?.size as number[]);
  return slices(args.backend as WasmBackendLike, x, [{ begin, size }])[0];
}

function splitVKernel(args: KernelArgs): tf.TensorInfo[] {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const axis = tf.util.parseAxisParam(args.attrs?.axis as number, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, args.attrs?.numOrSizeSplits as number[] | number, axis);
  let start = 0;
  const parts = sizes.map((s) => {
    const begin = x.shape.map((_, i) => (i === axis ? start : 0));
    const size = x.shape.map((d, i) => (i === axis ? s : d));
    start += s;
    return { begin, size };
  });
  return slices(args.backend as WasmBackendLike, x, parts);
}

function unpackKernel(args: KernelArgs): tf.TensorInfo[] {
  const { value } = args.inputs as { value: tf.TensorInfo };
  let axis = args.attrs?.axis as number;
  if (axis < 0) axis += value.shape.length;
  const outShape = value.shape.filter((_, i) => i !== axis);
  const parts = Array.from({ length: value.shape[axis] }, (_, j) => ({
    begin: value.shape.map((_, i) => (i === axis ? j : 0)),
    size: value.shape.map((d, i) => (i === axis ? 1 : d)),
  }));
  // Each part is a slice with the unpacked axis kept as 1; report the shape without it.
  return slices(args.backend as WasmBackendLike, value, parts).map((o) => ({ ...o, shape: outShape }));
}

/** out[b, o, i, :] = x[b, o, indices[b, i], :] over x viewed as [batch, outer, dim, slice]. */
function gatherKernel(args: KernelArgs): tf.TensorInfo {
  const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
  const axis = tf.util.parseAxisParam(args.attrs?.axis as number, x.shape)[0];
  const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(x as tf.Tensor, indices as tf.Tensor, axis, (args.attrs?.batchDims as number) ?? 0);
  const backend = args.backend as WasmBackendLike;
  const out = backend.makeOutput(info.outputShape, x.dtype);
  const xVals = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(indices);
  const outVals = backend.typedArrayFromHeap(out);
  const perBatch = product(indices.shape) / info.batchSize; // indices per batch entry
  const { sliceSize, outerSize, dimSize } = info;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0 || ids[i] >= dimSize) throw new Error(`GatherV2: the index value ${ids[i]} is not in [0, ${dimSize - 1}]`);
  }
  let o = 0;
  for (let b = 0; b < info.batchSize; b++) {
    for (let outer = 0; outer < outerSize; outer++) {
      const base = (b * outerSize + outer) * dimSize;
      for (let i = 0; i < perBatch; i++) {
        copyRun(xVals, (base + ids[b * perBatch + i]) * sliceSize, outVals, o, sliceSize);
        o += sliceSize;
      }
    }
  }
  return out;
}

/** Concatenation: per outer row, each input's run in turn (one call per run, loops for short runs). */
function concatKernel(args: KernelArgs): tf.TensorInfo {
  const inputs = Object.values(args.inputs) as tf.TensorInfo[];
  const axis = tf.util.parseAxisParam(args.attrs?.axis as number, inputs[0].shape)[0];
  const shapes = inputs.map((t) => t.shape);
  tf.backend_util.assertParamsConsistent(shapes, axis);
  const backend = args.backend as WasmBackendLike;
  const out = backend.makeOutput(tf.backend_util.computeOutShape(shapes, axis), inputs[0].dtype);
  const parts = inputs.filter((t) => product(t.shape) > 0);
  if (parts.length === 0) return out;
  const inner = parts.map((t) => product(t.shape.slice(axis))); // elements per outer row, per input
  const vals = parts.map((t) => backend.typedArrayFromHeap(t));
  const outVals = backend.typedArrayFromHeap(out);
  const outer = product(out.shape.slice(0, axis));
  let o = 0;
  for (let b = 0; b < outer; b++) {
    for (let i = 0; i < parts.length; i++) {
      copyRun(vals[i], b * inner[i], outVals, o, inner[i]);
      o += inner[i];
    }
  }
  return out;
}

/** Wraps `ours` so string tensors go to the stock kernel. */
function withStringFallback(ours: Kernel, stock: tf.KernelFunc, input: string): tf.KernelFunc {
  return ((args: KernelArgs) => {
    const t = args.inputs[input] as tf.TensorInfo;
    return t.dtype === 'string' ? stock(args as Parameters<tf.KernelFunc>[0]) : ours(args);
  }) as unknown as tf.KernelFunc;
}

/** Installs the five kernels in place of the stock wasm ones (idempotent; before the first kernel runs). */
export function registerWasmCopyKernels(): void {
  const ours: [string, Kernel, string][] = [
    [tf.Slice, sliceKernel, 'x'],
    [tf.SplitV, splitVKernel, 'x'],
    [tf.Unpack, unpackKernel, 'value'],
    [tf.GatherV2, gatherKernel, 'x'],
    [tf.Concat, concatKernel, '0'],
  ];
  for (const [name, kernel, input] of ours) {
    const stock = tf.getKernel(name, 'wasm') as (tf.KernelConfig & { [COPY_MARK]?: true }) | undefined;
    if (!stock || stock[COPY_MARK]) continue; // wasm not loaded, or already ours
    const config: tf.KernelConfig & { [COPY_MARK]: true } = {
      kernelName: name,
      backendName: 'wasm',
      // Kept so the stock kernel (the string fallback) is still set up when the backend initialises.
      setupFunc: stock.setupFunc,
      kernelFunc: withStringFallback(kernel, stock.kernelFunc, input),
      [COPY_MARK]: true,
    };
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(config);
  }
}
