/**
 * Loads the native TensorFlow binding (`@tensorflow/tfjs-node(-gpu)`) into this process, from the
 * project's own dependencies first (a user who could `npm install` it) and then from the prefix that
 * `pargs native install` provisions (see home.ts). Importing a binding registers the 'tensorflow'
 * backend in tfjs' global engine, which every copy of tfjs-core in the process shares.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { NATIVE_PACKAGES, nativeHome } from './home.js';

export interface LoadedBinding {
  /** The package that loaded, e.g. '@tensorflow/tfjs-node'. */
  pkg: string;
  /** Where it was found: the project's dependencies or the pargs native home. */
  origin: 'project' | 'native home';
}

export interface ImportResult {
  loaded?: LoadedBinding;
  /** Why each candidate did not load, for the error shown when the native backend was asked for. */
  failures: string[];
}

let cached: LoadedBinding | undefined;

/**
 * TensorFlow's C++ logging prints info lines (CPU features, thread pools); keep warnings and errors. One
 * notice (oneDNN is on) is printed before absl's logging starts and no variable silences it short of
 * turning oneDNN off, which costs speed; pargs leaves that one line alone. Set when this module loads, not when the binding does: only the main thread's `process.env` reaches
 * the C library's environment, and worker threads load the binding without the main thread doing so.
 */
function quietTensorFlowLogs(): void {
  if (process.env.TF_CPP_MIN_LOG_LEVEL === undefined) process.env.TF_CPP_MIN_LOG_LEVEL = '2';
}
quietTensorFlowLogs();

function isMissingPackage(err: unknown, pkg: string): boolean {
  const e = err as { code?: string; message?: string };
  return (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && (e.message ?? '').includes(`'${pkg}'`);
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0];
}

/**
 * Imports the first binding that loads: GPU build before CPU (whoever installed the GPU build chose it),
 * project before native home. Returns what loaded and why the others did not; never throws.
 */
export async function importNativeBinding(): Promise<ImportResult> {
  if (cached) return { loaded: cached, failures: [] };
  const failures: string[] = [];
  const order = [NATIVE_PACKAGES.gpu, NATIVE_PACKAGES.cpu];
  for (const pkg of order) {
    try {
      // A variable specifier keeps TypeScript and bundlers from requiring the optional package.
      const specifier: string = pkg;
      await import(specifier);
      cached = { pkg, origin: 'project' };
      return { loaded: cached, failures };
    } catch (err) {
      if (!isMissingPackage(err, pkg)) failures.push(`${pkg} (project): ${firstLine(err)}`);
    }
  }
  const home = nativeHome();
  const manifest = join(home, 'package.json');
  if (!existsSync(manifest)) {
    failures.push(`nothing provisioned in ${home} (run "npx pargs native install")`);
    return { failures };
  }
  const requireFromHome = createRequire(manifest);
  for (const pkg of order) {
    try {
      requireFromHome(pkg);
      cached = { pkg, origin: 'native home' };
      return { loaded: cached, failures };
    } catch (err) {
      if (!isMissingPackage(err, pkg)) failures.push(`${pkg} (${home}): ${firstLine(err)}`);
    }
  }
  if (failures.length === 0) failures.push(`no binding installed in ${home} (run "npx pargs native install")`);
  return { failures };
}

/** What the active 'tensorflow' backend reports of itself (tfjs-node's backend object, typed structurally). */
export interface NativeBackendFacts {
  tfVersion: string;
  usingGpu: boolean;
  /** Intra-op threads TensorFlow uses: TF_NUM_INTRAOP_THREADS, else one per core. */
  threads: number;
}

export function nativeBackendFacts(backend: unknown, cores: number): NativeBackendFacts {
  const b = backend as { binding?: { TF_Version?: string }; isUsingGpuDevice?: boolean };
  const env = Number(process.env.TF_NUM_INTRAOP_THREADS);
  return {
    tfVersion: String(b.binding?.TF_Version ?? 'unknown'),
    usingGpu: b.isUsingGpuDevice === true,
    threads: Number.isInteger(env) && env > 0 ? env : cores,
  };
}
