/**
 * libtensorflow from a TensorFlow Python wheel. Where tfjs' own download of libtensorflow 2.9.1 cannot
 * be reached, pip can often still provide a wheel (a local wheel cache, a mirror, a proxy), and the wheel
 * carries the full TensorFlow C API: `tensorflow/libtensorflow_cc.so.2` exports every `TF_*`/`TFE_*`
 * function the tfjs binding calls, next to its companion `libtensorflow_framework.so.2` and the C headers.
 * This module fetches such a wheel with pip and lays its C library out the way the binding's build
 * expects (deps/lib, deps/include).
 */
import { mkdir, readdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { runStep, runRequired, tail } from './run-step.js';

/** Pinned: the release whose C API the binding was checked against (tfjs-node 4.22's binding on 2.21). */
export const TENSORFLOW_WHEEL_VERSION = '2.21.0';

/** CPU-only wheel for a CPU build; the `tensorflow` wheel is CUDA-enabled on Linux x86-64. */
export function wheelRequirement(gpu: boolean): string {
  return `${gpu ? 'tensorflow' : 'tensorflow-cpu'}==${TENSORFLOW_WHEEL_VERSION}`;
}

/** The Python interpreter pip belongs to: PARGS_PYTHON, else python3 on PATH. */
export function pythonCommand(): string {
  const p = process.env.PARGS_PYTHON;
  return p !== undefined && p.trim() !== '' ? p : 'python3';
}

/** True when `python -m pip` runs at all; without it there is no wheel route. */
export async function pipAvailable(python: string, signal?: AbortSignal): Promise<boolean> {
  try {
    const r = await runStep(python, ['-m', 'pip', '--version'], { what: 'pip --version', signal, timeoutMs: 60_000 });
    return r.code === 0;
  } catch {
    return false;
  }
}

/**
 * Downloads the wheel into `dir` and returns its path, or undefined with pip's reason when pip has no
 * such wheel. `--retries 0` because the remote index may be unreachable on purpose (a local cache
 * serves instead) and pip's default five retries cost a minute for nothing.
 */
export async function downloadWheel(python: string, gpu: boolean, dir: string, signal?: AbortSignal): Promise<{ wheel?: string; reason?: string }> {
  await mkdir(dir, { recursive: true });
  const requirement = wheelRequirement(gpu);
  const r = await runStep(python, ['-m', 'pip', 'download', '--no-deps', '--retries', '0', '--timeout', '15', '--only-binary', ':all:', '-d', dir, requirement], {
    what: `pip download ${requirement}`,
    signal,
    timeoutMs: 20 * 60_000,
  });
  const prefix = gpu ? 'tensorflow-' : 'tensorflow_cpu-';
  const found = (await readdir(dir)).find((f) => f.startsWith(prefix) && f.endsWith('.whl'));
  if (r.code !== 0 || !found) return { reason: `pip has no ${requirement}: ${tail(r.stderr || r.stdout).split('\n').slice(-2).join(' ')}` };
  return { wheel: join(dir, found) };
}

/** Members of the wheel the binding needs: the two libraries and the C API headers with their includes. */
const LIBRARIES = ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'];
const HEADER_PREFIXES = ['tensorflow/c/', 'xla/tsl/c/', 'tensorflow/core/platform/ctstring', 'tsl/platform/ctstring'];

/**
 * Streams the needed members out of the wheel (a zip) with Python's zipfile: the 788 MB library is
 * never held in memory, and Python is there whenever pip is.
 */
const EXTRACT_SCRIPT = `
import json, os, shutil, sys, zipfile
wheel, deps, libs, prefixes = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
count = 0
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if name.endswith('/'):
            continue
        out = None
        if name.startswith('tensorflow/') and name[len('tensorflow/'):] in libs:
            out = os.path.join(deps, 'lib', name[len('tensorflow/'):])
        elif name.startswith('tensorflow/include/'):
            rel = name[len('tensorflow/include/'):]
            if any(rel.startswith(p) for p in prefixes) and '..' not in rel.split('/'):
                out = os.path.join(deps, 'include', rel)
        if out is None:
            continue
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(info) as src, open(out + '.part', 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(out + '.part', out)
        count += 1
print(count)
`;

/**
 * Lays out deps/ of the binding package from the wheel: libraries in deps/lib with the names the binding
 * links (`-ltensorflow` → the _cc library, whose SONAME the addon then records), headers in deps/include.
 * Stripping symbols (when `strip` exists) cuts the libraries from ~853 MB to ~634 MB; they still load.
 */
export async function installWheelLibrary(python: string, wheel: string, packageDir: string, signal?: AbortSignal): Promise<{ stripped: boolean }> {
  // deps/ belongs to the binding package pargs itself npm-installed into the native home (a failed tfjs
  // download may have left half a libtensorflow there); nothing of the user's lives in it.
  const deps = join(packageDir, 'deps');
  await rm(deps, { recursive: true, force: true });
  await mkdir(join(deps, 'lib'), { recursive: true });
  await runRequired(python, ['-c', EXTRACT_SCRIPT, wheel, deps, JSON.stringify(LIBRARIES), JSON.stringify(HEADER_PREFIXES)], {
    what: `extracting libtensorflow from ${wheel}`,
    signal,
    timeoutMs: 10 * 60_000,
    fix: 'check free disk space (about 1 GB is needed) and that the wheel is complete, then run the command again',
  });
  let stripped = true;
  for (const lib of LIBRARIES) {
    const r = await runStep('strip', ['--strip-unneeded', join(deps, 'lib', lib)], { what: `strip ${lib}`, signal, timeoutMs: 5 * 60_000 }).catch(() => undefined);
    if (!r || r.code !== 0) stripped = false;
  }
  const lib = join(deps, 'lib');
  await symlink('libtensorflow_cc.so.2', join(lib, 'libtensorflow.so'));
  await symlink('libtensorflow_framework.so.2', join(lib, 'libtensorflow_framework.so'));
  // tfjs' install script treats this name as "libtensorflow already downloaded" (a later `npm rebuild`
  // of the binding then keeps our library instead of trying the download again).
  await symlink('libtensorflow_cc.so.2', join(lib, 'libtensorflow.so.2.9.1'));
  return { stripped };
}
