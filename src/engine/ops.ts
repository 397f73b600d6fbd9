/**
 * Small differentiable ops the models need, written only with ops that have gradients on every
 * backend (wasm included), so `tf.grads` works through all of them.
 */
import { OptionError } from '../errors.js';
import { tf } from './tf.js';
import { checkArgument, instance, required } from '../options.js';

/**
 * log σ(x) = -softplus(-x). Replaces `tf.logSigmoid`, whose custom gradient throws on wasm
 * when its input was computed inside the same tape. softplus is evaluated stably by tfjs, so
 * this is finite at ±1000 (log σ(-1000) = -1000, log σ(1000) = 0) and its gradient is 1-σ(x).
 */
export function logSigmoid(x: tf.Tensor): tf.Tensor {
  checkArgument('logSigmoid', 'x', x, required(instance(() => tf.Tensor, 'a tf.Tensor')));
  return tf.tidy(() => tf.neg(tf.softplus(tf.neg(x)))); // same shape as x
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2 = Math.SQRT1_2;

/** The GELU variants found in Hugging Face configs (`hidden_act`). */
export type GeluKind = 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'gelu_fast' | 'quick_gelu';

/**
 * 0.5·x·(1 + tanh(u)), GPT-2's approximation, evaluated as x·σ(2u) — the same function, since
 * 0.5·(1 + tanh(u)) = σ(2u). Why: on wasm `tanh` and `pow` are scalar loops (~30 ms each on a
 * [512, 3072] GPT-2 MLP activation) while `sigmoid` and `mul` are vectorised (~3–4 ms), so this form is
 * ~3× faster; it is also more accurate for negative x, where 1 + tanh(u) cancels. x³ is x·x²
 * for the same reason (`pow` is slow).
 */
function geluTanh(x: tf.Tensor, c: number = SQRT_2_OVER_PI): tf.Tensor {
  const twoU = tf.mul(tf.mul(x, 2 * c), tf.add(1, tf.mul(0.044715, tf.square(x)))); // 2u = 2c·x·(1 + 0.044715·x²)
  return tf.mul(x, tf.sigmoid(twoU));
}

/** GELU in the given variant; all are elementwise, so the output has x's shape. */
export function gelu(x: tf.Tensor, kind: GeluKind = 'gelu'): tf.Tensor {
  return tf.tidy(() => {
    switch (kind) {
      case 'gelu':
        // Exact: 0.5·x·(1 + erf(x/√2)). tf.erf has a kernel and a gradient on wasm.
        return tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.mul(x, INV_SQRT_2))));
      case 'gelu_new':
      case 'gelu_pytorch_tanh':
        return geluTanh(x);
      case 'gelu_fast':
        // HF's 0.5·x·(1 + tanh(0.7978845608·x·(1 + 0.044715·x²))): the tanh approximation with the
        // constant rounded to 10 digits; the same x·σ(2u) evaluation.
        return geluTanh(x, 0.7978845608);
      case 'quick_gelu':
        return tf.mul(x, tf.sigmoid(tf.mul(1.702, x)));
      default:
        throw new OptionError(`unknown GELU kind ${JSON.stringify(kind)}`);
    }
  });
}

export type Activation = (x: tf.Tensor) => tf.Tensor;

const ACTIVATIONS: Record<string, Activation> = {
  gelu: (x) => gelu(x, 'gelu'),
  // HF aliases of the same two formulas.
  gelu_python: (x) => gelu(x, 'gelu'),
  gelu_new: (x) => gelu(x, 'gelu_new'),
  gelu_pytorch_tanh: (x) => gelu(x, 'gelu_pytorch_tanh'),
  gelu_accurate: (x) => gelu(x, 'gelu_new'),
  gelu_fast: (x) => gelu(x, 'gelu_fast'),
  quick_gelu: (x) => gelu(x, 'quick_gelu'),
  silu: (x) => tf.tidy(() => tf.mul(x, tf.sigmoid(x))),
  swish: (x) => tf.tidy(() => tf.mul(x, tf.sigmoid(x))),
  relu: (x) => tf.relu(x),
  // Squared ReLU (Primer); relu first so the gradient is 2·relu(x), zero for x < 0.
  relu2: (x) => tf.tidy(() => tf.square(tf.relu(x))),
  relu6: (x) => tf.relu6(x),
  tanh: (x) => tf.tanh(x),
  sigmoid: (x) => tf.sigmoid(x),
  // Identity must still return a new tensor, so callers may dispose input and output separately.
  linear: (x) => tf.clone(x),
};

/** Names `activation` accepts. */
export const ACTIVATION_NAMES: readonly string[] = Object.freeze(Object.keys(ACTIVATIONS));

/**
 * The elementwise activation called `name` in a model config (`hidden_act`, `activation_function`).
 * @throws OptionError naming the value and the supported names.
 */
export function activation(name: string): Activation {
  const fn = Object.hasOwn(ACTIVATIONS, name) ? ACTIVATIONS[name] : undefined;
  if (!fn) {
    throw new OptionError(`unknown activation ${JSON.stringify(name)}; supported: ${ACTIVATION_NAMES.join(', ')}`);
  }
  return fn;
}
