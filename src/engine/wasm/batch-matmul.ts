/**
 * A faster wasm `BatchMatMul` for batched products (attention: [B, H, T, hd] × [B, H, hd, T]).
 *
 * The stock tfjs 4.22 wasm kernel sends every product with more than one batch entry to a naive
 * blocked C++ loop (~2 GFLOP/s here), and only a batch of exactly one to XNNPACK (~10–30 GFLOP/s).
 * This kernel runs each batch entry through the XNNPACK path instead: it registers, for each entry,
 * extra tensor ids on the C++ side that point *into* the operands' and the output's heap buffers
 * (no copies), calls the same exported `BatchMatMul` on those [1, m, k] × [1, k, n] views, and
 * unregisters them. Unregistering only drops the id (and the XNNPACK operator cached for it); the
 * memory stays owned by the real tensors.
 *
 * Transposed products and broadcasts other than "one side has a single batch entry" go to the stock
 * kernel unchanged. This relies on internals of @tensorflow/tfjs-backend-wasm 4.22 (pinned in
 * package.json): `wasm.cwrap`, `wasm.tfjs.registerTensor/disposeData`, `dataIdMap`, `makeOutput`.
 */
import { tf } from '../tf.js';

/** Marks our kernel so a second registration (or a second copy of this module) is a no-op. */
const KERNEL_MARK = Symbol.for('pargs.wasmBatchMatMul');

type BatchMatMulFn = (
  aId: number, aShape: Uint8Array, aRank: number,
  bId: number, bShape: Uint8Array, bRank: number,
  transposeA: boolean, transposeB: boolean, outId: number,
) => void;

/** The parts of the (internal) wasm backend class this kernel uses. */
interface WasmBackendInternals {
  wasm: {
    cwrap(name: string, ret: null, args: string[]): BatchMatMulFn;
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
  };
  dataIdMap: { get(dataId: tf.DataId): { id: number; memoryOffset: number } };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

const exported = new WeakMap<object, BatchMatMulFn>();

function wasmBatchMatMul(backend: WasmBackendInternals): BatchMatMulFn {
  let fn = exported.get(backend);
  if (!fn) {
    fn = backend.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
    exported.set(backend, fn);
  }
  return fn;
}

/** Fewest rows of `a` per batch entry worth an XNNPACK call (see `plan`). */
const MIN_ROWS_PER_ENTRY = 8;

const shapeBytes = (shape: number[]): Uint8Array => new Uint8Array(new Int32Array(shape).buffer);

/** The batch plan when this kernel applies: entry count and per-entry sizes; undefined otherwise. */
function plan(a: tf.TensorInfo, b: tf.TensorInfo): { batch: number; m: number; k: number; n: number; aStep: number; bStep: number; outShape: number[] } | undefined {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const aOuter = a.shape.slice(0, -2);
  const bOuter = b.shape.slice(0, -2);
  const batchA = aOuter.reduce((p, d) => p * d, 1);
  const batchB = bOuter.reduce((p, d) => p * d, 1);
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  if (k !== k2 || Math.max(batchA, batchB) < 2 || m * k * n === 0) return undefined;
  // Each entry pays ~15 µs to build and pack an XNNPACK operator, so few rows per entry stay on the stock
  // loop: measured with k = 64, n = 65–128, the loop wins up to m = 4 (a decode step's q·Kᵀ and p·V
  // have m = 1: 0.47 ms stock vs 1.85 ms per-entry for 120 entries) and XNNPACK wins from m = 8.
  if (m < MIN_ROWS_PER_ENTRY) return undefined;
  // Only identical batch shapes, or one side with a single entry (then it is shared by all).
  const same = aOuter.length === bOuter.length && aOuter.every((d, i) => d === bOuter[i]);
  if (!same && batchA !== 1 && batchB !== 1) return undefined;
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(aOuter, bOuter);
  return {
    batch: Math.max(batchA, batchB),
    m, k, n,
    aStep: batchA === 1 ? 0 : m * k,
    bStep: batchB === 1 ? 0 : k * n,
    outShape: [...outer, m, n],
  };
}

/** Registers `size` floats at `offset` as a new C++-side tensor id (a view; owns nothing). */
function view(backend: WasmBackendInternals, offset: number, size: number): number {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, size, offset);
  return id;
}

/** Installs the kernel in place of the stock wasm one (idempotent). */
export function registerWasmBatchMatMul(): void {
  const stock = tf.getKernel(tf.BatchMatMul, 'wasm') as (tf.KernelConfig & { [KERNEL_MARK]?: true }) | undefined;
  if (!stock || stock[KERNEL_MARK]) return;
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    const p = transposeA || transposeB ? undefined : plan(a, b);
    if (!p) return stock.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    const backend = args.backend as WasmBackendInternals;
    const run = wasmBatchMatMul(backend);
    const out = backend.makeOutput(p.outShape, 'float32'); // [...batch, m, n]
    const aBase = backend.dataIdMap.get(a.dataId).memoryOffset;
    const bBase = backend.dataIdMap.get(b.dataId).memoryOffset;
    const outBase = backend.dataIdMap.get(out.dataId).memoryOffset;
    const aShape = shapeBytes([1, p.m, p.k]);
    const bShape = shapeBytes([1, p.k, p.n]);
    for (let i = 0; i < p.batch; i++) {
      const ids = [
        view(backend, aBase + 4 * i * p.aStep, p.m * p.k),
        view(backend, bBase + 4 * i * p.bStep, p.k * p.n),
        view(backend, outBase + 4 * i * p.m * p.n, p.m * p.n),
      ];
      try {
        run(ids[0], aShape, 3, ids[1], bShape, 3, false, false, ids[2]);
      } finally {
        for (const id of ids) backend.wasm.tfjs.disposeData(id);
      }
    }
    return out;
  };
  const config: tf.KernelConfig & { [KERNEL_MARK]: true } = {
    kernelName: tf.BatchMatMul,
    backendName: 'wasm',
    // The stock setup still runs: the stock kernel serves the transposed and broadcast cases.
    setupFunc: stock.setupFunc,
    kernelFunc: kernelFunc as unknown as tf.KernelFunc,
    [KERNEL_MARK]: true,
  };
  tf.unregisterKernel(tf.BatchMatMul, 'wasm');
  tf.registerKernel(config);
}
