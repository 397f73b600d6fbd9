/**
 * Backend selection. `initBackend` picks, initialises and reports the TensorFlow.js backend
 * every pargs computation runs on:
 *   explicit option > env PARGS_BACKEND > auto (tensorflow if a native binding imports,
 *   else wasm, else cpu).
 * The native bindings (`@tensorflow/tfjs-node(-gpu)`) are optional peer dependencies: their
 * install downloads libtensorflow, which not every machine can do, so they are loaded with a
 * dynamic import and their absence is an ordinary outcome, not an error (unless asked for).
 */
import { OptionError } from '../errors.js';
import { checkOptions, func, number, object, oneOf, required, type Schema } from '../options.js';
import { tf } from './tf.js';
import { availableParallelism } from 'node:os';
import { importNativeBinding, nativeBackendFacts } from './native/import.js';
import { applyWasmPatches, registerBatchMatMulGradient } from './wasm/patches.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  name: BackendName;
  /** Runs kernels in native libtensorflow (tfjs-node), not JS or WebAssembly. */
  native: boolean;
  /** Kernels run on a GPU device (asked of the native backend itself, not read from a package name). */
  gpu: boolean;
  /** The libtensorflow version the native binding runs (native only). */
  libtensorflow?: string;
  /** Threads the backend computes with: TensorFlow's intra-op threads on native, 1 on wasm and cpu. */
  threads?: number;
  /** One human-readable line, e.g. for a CLI banner. */
  description: string;
}

/** What the backend is chosen for, when known: auto picks by model size (see AUTO_NATIVE_MIN_PARAMETERS). */
export interface BackendWorkload {
  /** Parameters of the model about to run. */
  parameters: number;
}

export interface InitBackendOptions {
  backend?: BackendName | 'auto';
  workload?: BackendWorkload;
  /** Receives one line describing the choice. Default: stderr, only when PARGS_VERBOSE is set. */
  log?: (msg: string) => void;
}

export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

/**
 * Auto runs models of at least this many parameters on native TensorFlow (when it loads) and smaller
 * ones on WebAssembly. Measured (bench/native.ts --ladder, 5 rounds, docs/benchmarks.md): a native op
 * costs ~14 µs against wasm's ~6, so an 8-row decode step (the shape of PARGS' k-candidate step and of
 * batched decoding) runs 0.70–0.80× wasm's speed at 2.6–4.3 M parameters, ties at 13.8 M (0.95×) and wins
 * from 33.3 M (1.26–1.41×); prefill and the feature pass win at every size. One-row plain decoding was
 * faster on wasm at every size measured (up to 235 M) — the exception a size rule cannot see.
 */
export const AUTO_NATIVE_MIN_PARAMETERS = 30_000_000;
const VALID_REQUESTS = [...BACKEND_NAMES, 'auto'];
const INSTALL_HINT =
  'provision it with `npx pargs native install` (add --gpu for CUDA; README "Native backend"), ' +
  'or choose backend "wasm"';

let current: BackendInfo | undefined;
let prodModeSet = false;
/** Serialises concurrent calls, so two callers never race two `tf.setBackend`s. */
let queue: Promise<unknown> = Promise.resolve();

/** The backend chosen by the last successful `initBackend`, if any. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}

/** Validates a requested name from an option or the environment; `where` names the source. */
function parseRequest(value: unknown, where: string): BackendName | 'auto' {
  const text = typeof value === 'string' ? value.trim().toLowerCase() : value;
  if (typeof text === 'string' && (VALID_REQUESTS as string[]).includes(text)) {
    return text as BackendName | 'auto';
  }
  throw new OptionError(
    `${where}: unknown backend ${JSON.stringify(value)}; valid names are ${VALID_REQUESTS.map((n) => `"${n}"`).join(', ')}`,
  );
}

function defaultLog(msg: string): void {
  const verbose = process.env.PARGS_VERBOSE;
  if (verbose !== undefined && verbose !== '' && verbose !== '0') process.stderr.write(`${msg}\n`);
}

async function describeWasm(): Promise<string> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = wasm.getThreadsCount();
  return `WebAssembly (${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'})`;
}

/**
 * The emscripten glue of the wasm module, when instantiated under Node, installs process handlers that
 * re-throw every uncaught exception and unhandled rejection: any later error in the *user's* code then
 * prints the glue's ~38 KB of minified source and exits with code 7 instead of 1. pargs removes exactly
 * the handlers that appeared while it initialised the module, and leaves every other listener alone.
 */
const CRASH_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

type Listener = (...args: unknown[]) => void;
/** `process` as a plain emitter: its typed overloads do not take an event name held in a variable. */
const emitter = process as unknown as { listeners(event: string): Listener[]; off(event: string, listener: Listener): void };

function crashListeners(): Map<string, Set<Listener>> {
  return new Map(CRASH_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
}

function removeListenersAddedSince(before: Map<string, Set<Listener>>): void {
  for (const event of CRASH_EVENTS) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener)) emitter.off(event, listener);
    }
  }
}

/** Makes `name` the active tfjs backend; returns its info, or throws when it cannot. */
async function activate(name: BackendName): Promise<BackendInfo> {
  if (name === 'tensorflow') {
    const { loaded, failures } = await importNativeBinding();
    if (!loaded) {
      throw new OptionError(`backend "tensorflow" is not available (${failures.join('; ')}): ${INSTALL_HINT}`);
    }
    // The binding's own tfjs registers the stock gradients when it loads, over ours.
    registerBatchMatMulGradient();
    if (!(await tf.setBackend('tensorflow'))) {
      throw new OptionError(`backend "tensorflow": ${loaded.pkg} loaded but its backend failed to initialise`);
    }
    const facts = nativeBackendFacts(tf.backend(), availableParallelism());
    const device = facts.usingGpu ? 'GPU' : 'CPU';
    return {
      name,
      native: true,
      gpu: facts.usingGpu,
      libtensorflow: facts.tfVersion,
      threads: facts.threads,
      description: `TensorFlow native ${facts.tfVersion} on ${device}, ${facts.threads} thread${facts.threads === 1 ? '' : 's'} (${loaded.pkg} from the ${loaded.origin})`,
    };
  }
  if (name === 'wasm') {
    const before = crashListeners();
    try {
      // Importing registers the 'wasm' backend factory; setBackend instantiates the module.
      await import('@tensorflow/tfjs-backend-wasm');
      applyWasmPatches(); // before any kernel runs, so the first gradient already uses them
      if (!(await tf.setBackend('wasm'))) throw new OptionError('backend "wasm" failed to initialise');
    } finally {
      removeListenersAddedSince(before);
    }
    return { name, native: false, gpu: false, threads: 1, description: await describeWasm() };
  }
  if (!(await tf.setBackend('cpu'))) throw new OptionError('backend "cpu" failed to initialise');
  return { name, native: false, gpu: false, threads: 1, description: 'plain JavaScript (tfjs cpu backend; slow)' };
}

/** The backend auto prefers for a workload, and why, in words for the PARGS_VERBOSE banner. */
export function autoChoice(workload: BackendWorkload | undefined): { name: BackendName; reason: string } {
  if (!workload) return { name: 'wasm', reason: 'no model size given; WebAssembly is the embedded default' };
  const millions = (workload.parameters / 1e6).toFixed(1);
  const limit = `${AUTO_NATIVE_MIN_PARAMETERS / 1e6} M`;
  return workload.parameters >= AUTO_NATIVE_MIN_PARAMETERS
    ? { name: 'tensorflow', reason: `${millions} M parameters ≥ ${limit}, where native TensorFlow measured faster than WebAssembly` }
    : { name: 'wasm', reason: `${millions} M parameters < ${limit}, where WebAssembly measured as fast or faster (native pays a fixed cost per op)` };
}

/** What was asked for: the option, else PARGS_BACKEND, else 'auto'. Throws OptionError for an unknown name. */
export function requestedBackend(option: BackendName | 'auto' | undefined): BackendName | 'auto' {
  return option !== undefined
    ? parseRequest(option, 'option backend')
    : process.env.PARGS_BACKEND !== undefined && process.env.PARGS_BACKEND.trim() !== ''
      ? parseRequest(process.env.PARGS_BACKEND, 'environment variable PARGS_BACKEND')
      : 'auto';
}

async function select(opts: InitBackendOptions): Promise<BackendInfo> {
  const request = requestedBackend(opts.backend);

  const auto = request === 'auto' ? autoChoice(opts.workload) : undefined;
  // Idempotent: keep the cached choice when nothing different is asked for and tfjs still
  // runs it (a caller may have switched with tf.setBackend in between, e.g. in tests). Auto without a
  // workload keeps whatever runs; auto for a model switches only when the model calls for another backend.
  const wanted = auto ? (opts.workload ? auto.name : current?.name) : request;
  if (current && wanted === current.name && tf.getBackend() === current.name) {
    return current;
  }

  if (!prodModeSet) {
    // Prod mode skips per-op debug checks (NaN scans, etc.) that cost time on every kernel.
    tf.enableProdMode();
    prodModeSet = true;
  }
  // Broadcast batch dims are handled only by our gradient, whatever the backend.
  registerBatchMatMulGradient();

  let info: BackendInfo | undefined;
  let why = '';
  if (!auto) {
    info = await activate(request as BackendName);
  } else {
    const failures: string[] = [];
    const order = auto.name === 'tensorflow' ? BACKEND_NAMES : (['wasm', 'cpu'] as const);
    for (const name of order) {
      try {
        info = await activate(name);
        break;
      } catch (err) {
        failures.push(`${name}: ${(err as Error).message}`);
      }
    }
    if (!info) throw new OptionError(`no TensorFlow.js backend could be initialised (${failures.join('; ')})`);
    why = info.name === auto.name ? ` (auto: ${auto.reason})` : ` (auto: ${auto.reason}, but ${failures.join('; ')})`;
  }
  current = info;
  (opts.log ?? defaultLog)(`pargs: backend ${info.name} — ${info.description}${why}`);
  return info;
}

/**
 * Chooses and initialises the backend (see the module comment for the order). Safe to call
 * repeatedly: returns the cached info unless a different backend is requested.
 * @throws OptionError for an unknown name (option or PARGS_BACKEND) or an unavailable backend.
 */
export const INIT_BACKEND_SCHEMA: Schema = { backend: oneOf('auto', ...BACKEND_NAMES), log: func(), workload: object({ parameters: required(number({ min: 0 })) }, 'a workload { parameters }') };

export function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  try {
    checkOptions('initBackend', opts, INIT_BACKEND_SCHEMA);
  } catch (err) {
    return Promise.reject(err);
  }
  const run = queue.then(() => select(opts));
  queue = run.catch(() => undefined); // a failed call must not block later ones
  return run;
}
