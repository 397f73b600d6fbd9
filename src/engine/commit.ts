/**
 * `commitToBackend(t)`: after it returns, the active backend holds `t`'s values in its own memory, not
 * in the JS array the tensor was made from, so a loader can drop its host copy tensor by tensor.
 * WebAssembly copies the values into its heap when the tensor is made, and cpu keeps the array itself
 * as its storage (nothing to drop); native TensorFlow defers the copy to the first op (native/commit.ts).
 */
import { commitNative } from './native/commit.js';
import { tf } from './tf.js';

export function commitToBackend<T extends tf.Tensor>(t: T): T {
  if (tf.getBackend() === 'tensorflow') commitNative(tf.backend(), t);
  return t;
}
