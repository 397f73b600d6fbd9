/**
 * The CUDA libraries a GPU `tensorflow` wheel loads at run time. The wheel does not carry them: its
 * `and-cuda` extra names NVIDIA's library wheels (cuBLAS, cuDNN, …; CUDA 12 and cuDNN 9 for 2.21). pip
 * installs exactly those requirements into a folder of the native home, and an env file puts their lib/
 * folders on LD_LIBRARY_PATH (the dynamic loader reads it only when a process starts, so it must be set
 * before Node runs: `source <home>/cuda-env.sh`). Not verified on a GPU machine from this project's CI.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runRequired } from './run-step.js';

/** Reads the wheel's METADATA and prints the requirements of its `and-cuda` extra, one per line. */
const CUDA_REQUIREMENTS_SCRIPT = `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    meta = next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))
    for line in z.read(meta).decode('utf-8').splitlines():
        if line.startswith('Requires-Dist:') and 'extra == "and-cuda"' in line:
            print(line[len('Requires-Dist:'):].split(';')[0].strip())
`;

export async function installCudaLibraries(python: string, wheel: string, home: string, signal?: AbortSignal): Promise<{ envFile: string; libraryDirs: string[] }> {
  const listed = await runRequired(python, ['-c', CUDA_REQUIREMENTS_SCRIPT, wheel], {
    what: 'reading the CUDA requirements of the tensorflow wheel',
    signal,
    timeoutMs: 120_000,
    fix: 'give a CUDA-enabled Linux x86-64 tensorflow wheel (--wheel FILE)',
  });
  const requirements = listed.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  const target = join(home, 'cuda');
  if (requirements.length > 0) {
    await runRequired(python, ['-m', 'pip', 'install', '--retries', '0', '--upgrade', '--target', target, ...requirements], {
      what: `pip install of the CUDA libraries (${requirements.length} wheels)`,
      signal,
      timeoutMs: 60 * 60_000,
      fix: 'pip must reach an index or cache with the NVIDIA library wheels (nvidia-cublas-cu12, nvidia-cudnn-cu12, …)',
    });
  }
  const nvidia = join(target, 'nvidia');
  const libraryDirs = (await readdir(nvidia).catch(() => [] as string[])).map((d) => join(nvidia, d, 'lib')).sort();
  const envFile = join(home, 'cuda-env.sh');
  const path = libraryDirs.join(':');
  await writeFile(envFile, `# Written by "pargs native install --gpu": the CUDA libraries of the tensorflow wheel.\nexport LD_LIBRARY_PATH="${path}\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"\n`);
  return { envFile, libraryDirs };
}
