/**
 * `pargs native install [--gpu]` provisions the native TensorFlow backend (see
 * src/engine/native/provision.ts); `pargs native status` says what is provisioned and whether it loads.
 */
import { existsSync } from 'node:fs';
import { OptionError } from '../errors.js';
import { addonPath, probeBinding } from '../engine/native/build-addon.js';
import { NATIVE_PACKAGES, nativeHome, nativePackageDir, type NativeFlavour } from '../engine/native/home.js';
import { provisionNative, type LibtensorflowSource } from '../engine/native/provision.js';
import { defineCommand } from './args.js';

const SOURCES: readonly LibtensorflowSource[] = ['auto', 'tfjs', 'wheel'];

export const nativeCommand = defineCommand({
  name: 'native',
  summary: 'provision the native TensorFlow backend (install) or show it (status)',
  usage: 'pargs native install [--gpu] [--source auto|tfjs|wheel] [--wheel FILE] [--force] | pargs native status [--json]',
  positionals: ['install|status'],
  flags: {
    gpu: { type: 'boolean', help: 'the CUDA build (@tensorflow/tfjs-node-gpu)' },
    source: { type: 'string', help: 'libtensorflow from tfjs\' download, a pip TensorFlow wheel, or the first that works', default: 'auto', placeholder: 'auto|tfjs|wheel' },
    wheel: { type: 'string', help: 'build from this TensorFlow wheel file instead of asking pip', placeholder: 'FILE' },
    force: { type: 'boolean', help: 'rebuild even when a working binding is installed' },
    json: { type: 'boolean', help: 'print one JSON object' },
  },
  async run(flags, positionals, io) {
    const action = positionals[0];
    if (positionals.length !== 1 || (action !== 'install' && action !== 'status')) {
      throw new OptionError(`pargs native: give "install" or "status" (got ${positionals.length === 0 ? 'nothing' : JSON.stringify(positionals.join(' '))}), e.g. "pargs native install"`);
    }
    if (action === 'status') {
      const home = nativeHome();
      const rows = [];
      for (const flavour of Object.keys(NATIVE_PACKAGES) as NativeFlavour[]) {
        const pkg = NATIVE_PACKAGES[flavour];
        const installed = existsSync(addonPath(nativePackageDir(flavour, home)));
        const probe = installed ? await probeBinding(home, pkg, io.signal) : undefined;
        rows.push({ package: pkg, installed, loads: probe?.ok ?? false, libtensorflow: probe?.tfVersion, usingGpu: probe?.usingGpu, error: probe?.error });
      }
      if (flags.json) io.out(JSON.stringify({ home, bindings: rows }));
      else {
        io.out(`native home  ${home}`);
        for (const r of rows) {
          io.out(`${r.package.padEnd(26)} ${!r.installed ? 'not provisioned' : r.loads ? `loads: libtensorflow ${r.libtensorflow} on ${r.usingGpu ? 'GPU' : 'CPU'}` : `does not load: ${r.error}`}`);
        }
      }
      return 0;
    }
    if (!(SOURCES as string[]).includes(flags.source ?? 'auto')) {
      throw new OptionError(`pargs native install: --source must be one of ${SOURCES.join(', ')}, got ${JSON.stringify(flags.source)}`);
    }
    const result = await provisionNative({
      gpu: flags.gpu,
      source: flags.source as LibtensorflowSource,
      wheel: flags.wheel,
      force: flags.force,
      signal: io.signal,
      log: (line) => io.err(`pargs native: ${line}`),
    });
    if (flags.json) io.out(JSON.stringify(result));
    else if (result.status === 'skipped') {
      io.out(`skipped: no libtensorflow source (${result.notes.join('; ')}). pargs keeps running on WebAssembly.`);
    } else {
      io.out(`${result.status === 'present' ? 'already provisioned' : 'installed'}: ${result.package} with libtensorflow ${result.libtensorflow} on ${result.usingGpu ? 'GPU' : 'CPU'}` +
        `${result.source ? ` (from ${result.source})` : ''} in ${result.home}, ${result.seconds.toFixed(0)} s`);
      for (const note of result.notes) io.out(`note: ${note}`);
      if (result.cudaEnvFile) io.out(`before running pargs on the GPU: source ${result.cudaEnvFile}`);
      io.out('use it with PARGS_BACKEND=tensorflow (or --backend tensorflow); "pargs info MODEL" shows the backend');
    }
    return 0;
  },
});
