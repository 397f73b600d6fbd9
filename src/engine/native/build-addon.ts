/**
 * Builds the tfjs binding (`tfjs_binding.node`) offline with node-gyp against the libtensorflow laid out
 * in the package's deps/, and checks a binding by loading it in a child process (a broken library must
 * not take down the process that installs it).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BackendError } from '../../errors.js';
import { runStep, runRequired } from './run-step.js';

/** N-API versions tfjs-node 4.22 builds for; its loader picks the highest the running Node supports. */
const BINDING_NAPI_VERSIONS = [3, 4, 5, 6, 7, 8];

export function bindingNapiVersion(): number {
  const supported = Number(process.versions.napi);
  const usable = BINDING_NAPI_VERSIONS.filter((v) => v <= supported);
  if (usable.length === 0) throw new BackendError(`Node ${process.version} supports N-API ${supported}; the tfjs binding needs 3 or later: upgrade Node`);
  return Math.max(...usable);
}

/** Where the loader looks for the built addon. */
export function addonPath(packageDir: string): string {
  return join(packageDir, 'lib', `napi-v${bindingNapiVersion()}`, 'tfjs_binding.node');
}

/** npm's own node-gyp: npm passes it to scripts as npm_config_node_gyp; otherwise it sits beside npm. */
async function nodeGypScript(signal?: AbortSignal): Promise<string> {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  const root = await runStep('npm', ['root', '-g'], { what: 'npm root -g', signal, timeoutMs: 60_000 });
  const candidate = join(root.stdout.trim(), 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (root.code === 0 && existsSync(candidate)) return candidate;
  throw new BackendError('node-gyp was not found (looked for npm\'s bundled copy); install it with "npm install -g node-gyp" and run the command again');
}

/**
 * The Node headers to build against, without a download: npm's `nodedir` setting when set, else the
 * headers installed with this Node (PREFIX/include/node). Undefined lets node-gyp fetch them.
 */
async function nodeHeadersDir(signal?: AbortSignal): Promise<string | undefined> {
  const configured = await runStep('npm', ['config', 'get', 'nodedir'], { what: 'npm config get nodedir', signal, timeoutMs: 60_000 });
  const value = configured.stdout.trim();
  if (configured.code === 0 && value !== '' && value !== 'undefined' && value !== 'null') return value;
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node.h')) ? prefix : undefined;
}

/** Compiles the binding for this Node's N-API version only (node-pre-gyp would build all six: 6× the time). */
export async function buildAddon(packageDir: string, signal?: AbortSignal): Promise<void> {
  const gyp = await nodeGypScript(signal);
  const nodedir = await nodeHeadersDir(signal);
  const napi = bindingNapiVersion();
  const args = [
    gyp,
    'rebuild',
    ...(nodedir ? [`--nodedir=${nodedir}`] : []),
    `--jobs=max`,
    '--module_name=tfjs_binding',
    `--module_path=${join(packageDir, 'lib', `napi-v${napi}`)}`,
    `--napi_build_version=${napi}`,
  ];
  await runRequired(process.execPath, args, {
    what: `building the tfjs binding with node-gyp in ${packageDir}`,
    cwd: packageDir,
    signal,
    timeoutMs: 15 * 60_000,
    fix: 'a C++ toolchain is needed (Debian: apt-get install -y g++ make python3), and the Node headers (npm config set nodedir, or internet access for node-gyp to fetch them)',
  });
  if (!existsSync(addonPath(packageDir))) throw new BackendError(`node-gyp finished but ${addonPath(packageDir)} was not written; run the command again with PARGS_VERBOSE=1`);
}

export interface BindingProbe {
  ok: boolean;
  tfVersion?: string;
  usingGpu?: boolean;
  error?: string;
}

/** Loads the package in a child Node and asks the backend what it runs. */
export async function probeBinding(home: string, pkg: string, signal?: AbortSignal): Promise<BindingProbe> {
  const script = `
    const { createRequire } = require('node:module');
    const tf = createRequire(${JSON.stringify(join(home, 'package.json'))})(${JSON.stringify(pkg)});
    tf.setBackend('tensorflow');
    const b = tf.backend();
    const x = tf.matMul(tf.ones([2, 2]), tf.ones([2, 2])).dataSync();
    if (x[0] !== 2) throw new Error('a 2x2 matMul gave ' + x[0]);
    process.stdout.write(JSON.stringify({ tfVersion: b.binding.TF_Version, usingGpu: b.isUsingGpuDevice === true }));
  `;
  const r = await runStep(process.execPath, ['-e', script], {
    what: `loading ${pkg}`,
    signal,
    timeoutMs: 120_000,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2' },
  });
  if (r.code !== 0) return { ok: false, error: (r.stderr || r.stdout).trim().split('\n').slice(0, 3).join(' ') };
  try {
    return { ok: true, ...(JSON.parse(r.stdout) as { tfVersion: string; usingGpu: boolean }) };
  } catch {
    return { ok: false, error: `unexpected output: ${r.stdout.slice(0, 200)}` };
  }
}
