/**
 * tfjs-node's backend keeps a new tensor's values as the caller's JS array and copies them into a
 * TensorFlow buffer only when an op first reads the tensor (`getInputTensorIds`, which then drops the
 * array). Loading a model therefore left every weight on the JS heap, and the first forward copied
 * them all into TensorFlow while the arrays still waited for the garbage collector: about twice the
 * weights at once (2.1× for GPT-2-large, bench/scale.ts). Committing each weight as it is built keeps
 * one copy at a time. Relies on the internals of @tensorflow/tfjs-node 4.22 (the version `pargs native
 * install` provisions); where they differ, the tensor is left as it is and the first op commits it.
 */
import type { tf } from '../tf.js';

interface NodeBackendInternals {
  getInputTensorIds?: (tensors: tf.Tensor[]) => number[];
}

/** Copies `t`'s pending values into TensorFlow now; the backend then lets go of the JS array. */
export function commitNative(backend: unknown, t: tf.Tensor): void {
  const internals = backend as NodeBackendInternals;
  if (typeof internals.getInputTensorIds === 'function') internals.getInputTensorIds([t]);
}
