/**
 * The single place pargs imports TensorFlow.js from. Everything else does
 * `import { tf } from '../engine/tf.js'`. pargs needs only the core (ops, gradients, optimizers) and the
 * cpu and wasm backends, not the `@tensorflow/tfjs` umbrella (layers, converter, data, webgl: about
 * 220 MB of node_modules pargs never used). The core's Node build registers no gradients, so they come
 * from a bundle of its own gradient files made at build time (scripts/bundle-gradients.mjs). The
 * optional native bindings register into this same instance.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import './tfjs-gradients.generated.js';

export { tf };
