/**
 * `pargs native install [--gpu]`: provisions the native TensorFlow backend without touching the
 * project's package.json or lockfile. Idempotent: a binding that already loads is kept.
 *
 *   1. npm installs @tensorflow/tfjs-node(-gpu) into the native home (home.ts), scripts off.
 *   2. libtensorflow, first source that works:
 *      a. tfjs' own install script (downloads libtensorflow 2.9.1 and a prebuilt addon), where reachable;
 *      b. a TensorFlow wheel from pip (or a wheel file given), whose C library the binding is built
 *         against offline with node-gyp (wheel.ts, build-addon.ts).
 *   3. The result is loaded in a child process and must run a matMul.
 * Where neither source exists the result is "skipped" with the reasons (not an error: wasm still works).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BackendError, throwIfAborted } from '../../errors.js';
import { addonPath, buildAddon, probeBinding } from './build-addon.js';
import { installCudaLibraries } from './cuda-wheels.js';
import { NATIVE_PACKAGES, TFJS_NODE_VERSION, nativeHome, nativePackageDir } from './home.js';
import { runRequired, runStep, tail } from './run-step.js';
import { downloadWheel, installWheelLibrary, pipAvailable, pythonCommand, wheelRequirement } from './wheel.js';

export type LibtensorflowSource = 'auto' | 'tfjs' | 'wheel';

export interface ProvisionOptions {
  /** Provision @tensorflow/tfjs-node-gpu (CUDA) instead of @tensorflow/tfjs-node. */
  gpu?: boolean;
  /** Which libtensorflow sources to try (default 'auto': tfjs' download, then a pip wheel). */
  source?: LibtensorflowSource;
  /** A TensorFlow wheel file to build from instead of asking pip (also PARGS_TF_WHEEL). */
  wheel?: string;
  /** Rebuild even when a working binding is installed. */
  force?: boolean;
  /** Receives one line per step. */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface ProvisionResult {
  /** installed: built now; present: a working binding was already there; skipped: no libtensorflow source. */
  status: 'installed' | 'present' | 'skipped';
  package: string;
  home: string;
  source?: 'tfjs download' | 'wheel';
  libtensorflow?: string;
  usingGpu?: boolean;
  /** Why nothing was installed (skipped), or a note (e.g. a GPU build that sees no GPU). */
  notes: string[];
  /** For --gpu from a wheel: the file to `source` before running Node. */
  cudaEnvFile?: string;
  seconds: number;
}

async function ensureHomeManifest(home: string): Promise<void> {
  await mkdir(home, { recursive: true });
  const manifest = join(home, 'package.json');
  if (!existsSync(manifest)) {
    await writeFile(manifest, `${JSON.stringify({ name: 'pargs-native-home', private: true, description: 'Native TensorFlow bindings provisioned by "pargs native install"' }, null, 2)}\n`);
  }
}

/** Runs the binding package's own install script (tfjs' libtensorflow download + prebuilt addon). */
async function tryTfjsDownload(packageDir: string, signal?: AbortSignal): Promise<string | undefined> {
  const pkg = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as { scripts?: { install?: string } };
  const script = pkg.scripts?.install;
  if (!script) return 'the package has no install script';
  const r = await runStep('sh', ['-c', script], { what: 'tfjs install script', cwd: packageDir, signal, timeoutMs: 10 * 60_000 });
  if (r.code === 0 && existsSync(addonPath(packageDir))) return undefined;
  // The script's useful line is the first "Error: …" (e.g. "getaddrinfo ENOTFOUND storage.googleapis.com").
  const lines = tail(r.stderr || r.stdout).split('\n');
  const reason = lines.find((l) => /^\s*\w*Error: /.test(l)) ?? lines.find((l) => /fail|ENOTFOUND|EAI_AGAIN|ECONN/i.test(l));
  return `tfjs' libtensorflow download failed (${(reason ?? `exit ${r.code}`).trim().slice(0, 200)})`;
}

export async function provisionNative(opts: ProvisionOptions = {}): Promise<ProvisionResult> {
  const started = Date.now();
  const log = opts.log ?? (() => undefined);
  const gpu = opts.gpu === true;
  const source = opts.source ?? 'auto';
  const pkg = NATIVE_PACKAGES[gpu ? 'gpu' : 'cpu'];
  const home = nativeHome();
  const packageDir = nativePackageDir(gpu ? 'gpu' : 'cpu', home);
  const notes: string[] = [];
  const done = (status: ProvisionResult['status'], extra: Partial<ProvisionResult> = {}): ProvisionResult => ({
    status, package: pkg, home, notes, seconds: (Date.now() - started) / 1000, ...extra,
  });
  const checkGpu = (usingGpu: boolean | undefined): void => {
    if (gpu && !usingGpu) notes.push('the GPU build loaded but TensorFlow sees no GPU device: check the NVIDIA driver and the CUDA libraries (README "Native backend")');
  };

  if (!opts.force && existsSync(addonPath(packageDir))) {
    const probe = await probeBinding(home, pkg, opts.signal);
    if (probe.ok) {
      checkGpu(probe.usingGpu);
      log(`${pkg} ${TFJS_NODE_VERSION} is already provisioned in ${home} (libtensorflow ${probe.tfVersion})`);
      return done('present', { libtensorflow: probe.tfVersion, usingGpu: probe.usingGpu });
    }
    log(`${pkg} in ${home} does not load (${probe.error}); provisioning it again`);
  }

  // What the wheel route would use, checked before anything is installed: a wrong --wheel is a typed
  // error at once, and a wheel-only install on a machine without pip is skipped at once.
  const python = pythonCommand();
  const given = opts.wheel ?? (process.env.PARGS_TF_WHEEL?.trim() || undefined);
  if (given !== undefined && !existsSync(given)) throw new BackendError(`the TensorFlow wheel ${JSON.stringify(given)} does not exist; give the path of a ${wheelRequirement(gpu)} .whl file`);
  const hasPip = given !== undefined || source === 'tfjs' ? true : await pipAvailable(python, opts.signal);
  const noPip = `no pip to fetch ${wheelRequirement(gpu)} (${python} -m pip does not run; set PARGS_PYTHON or give --wheel FILE)`;
  if (source === 'wheel' && !hasPip) {
    notes.push(noPip);
    return done('skipped');
  }

  log(`installing ${pkg}@${TFJS_NODE_VERSION} into ${home} (npm, install scripts off)`);
  await ensureHomeManifest(home);
  await runRequired('npm', ['install', '--prefix', home, '--ignore-scripts', '--no-audit', '--no-fund', '--save-exact', `${pkg}@${TFJS_NODE_VERSION}`], {
    what: `npm install ${pkg}`,
    signal: opts.signal,
    timeoutMs: 20 * 60_000,
    fix: 'the npm registry must be reachable (npm config get registry)',
  });
  throwIfAborted(opts.signal, 'native install');

  if (source !== 'wheel') {
    log('trying tfjs\' own libtensorflow download');
    const failure = await tryTfjsDownload(packageDir, opts.signal);
    if (failure === undefined) {
      const probe = await probeBinding(home, pkg, opts.signal);
      if (probe.ok) {
        checkGpu(probe.usingGpu);
        return done('installed', { source: 'tfjs download', libtensorflow: probe.tfVersion, usingGpu: probe.usingGpu });
      }
      notes.push(`tfjs' download installed a binding that does not load (${probe.error})`);
    } else {
      notes.push(failure);
    }
    log(notes[notes.length - 1]);
    if (source === 'tfjs') return done('skipped');
  }

  let wheel = given;
  const wheelDir = join(home, 'wheels');
  if (wheel === undefined) {
    if (!hasPip) {
      notes.push(noPip);
      return done('skipped');
    }
    log(`fetching ${wheelRequirement(gpu)} with pip`);
    const got = await downloadWheel(python, gpu, wheelDir, opts.signal);
    if (!got.wheel) {
      notes.push(got.reason ?? 'pip returned no wheel');
      return done('skipped');
    }
    wheel = got.wheel;
  }
  log(`extracting libtensorflow from ${wheel}`);
  const { stripped } = await installWheelLibrary(python, wheel, packageDir, opts.signal);
  if (!stripped) notes.push('strip was not available: the libraries keep their symbols (about 220 MB more on disk)');
  let cudaEnvFile: string | undefined;
  if (gpu) {
    log('installing the CUDA libraries the tensorflow wheel needs');
    cudaEnvFile = (await installCudaLibraries(python, wheel, home, opts.signal)).envFile;
  }
  log('building the tfjs binding with node-gyp (offline, about 20 s)');
  await buildAddon(packageDir, opts.signal);
  await rm(join(packageDir, 'build'), { recursive: true, force: true });
  // Only the wheel pip downloaded for this run goes; a wheel the user gave, and anything else in wheels/, stays.
  if (given === undefined) {
    await rm(wheel, { force: true });
    await rmdir(wheelDir).catch(() => undefined); // only when empty
  }
  const probe = await probeBinding(home, pkg, opts.signal);
  if (!probe.ok) throw new BackendError(`the binding built from ${wheel} does not load: ${probe.error}. Run "npx pargs native install --force" again; if it persists, report it with this message`);
  checkGpu(probe.usingGpu);
  return done('installed', { source: 'wheel', libtensorflow: probe.tfVersion, usingGpu: probe.usingGpu, cudaEnvFile });
}
