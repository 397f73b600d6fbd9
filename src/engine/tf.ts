/**
 * The single place the library imports TensorFlow.js from. Everything else does
 * `import { tf } from '../engine/tf.js'`, so a future switch of package (or a shim around it)
 * touches one file, and the optional native bindings register into this same instance.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
