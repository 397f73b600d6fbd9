#!/usr/bin/env node
/**
 * `npm run test:native`: provisions the native TensorFlow backend (`pargs native install`, idempotent)
 * and runs the test suite on it (PARGS_BACKEND=tensorflow). Extra arguments go to vitest (CI passes a
 * JSON reporter). Where no libtensorflow source exists the run is skipped, loudly, with exit code 0 and
 * no report: the WebAssembly suite (`npm test`) is the one every machine runs.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'pargs.js');

const install = spawnSync(process.execPath, [bin, 'native', 'install', '--json'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
if (install.status !== 0) {
  process.stderr.write(`test:native: "pargs native install" failed (exit ${install.status})\n${install.stdout}`);
  process.exit(install.status ?? 1);
}
const result = JSON.parse(install.stdout.trim().split('\n').pop());
if (result.status === 'skipped') {
  const bar = '='.repeat(78);
  process.stdout.write(`${bar}\nNATIVE BACKEND TESTS SKIPPED: no libtensorflow source on this machine\n  ${result.notes.join('\n  ')}\n${bar}\n`);
  process.exit(0);
}
process.stdout.write(`test:native: ${result.package}, libtensorflow ${result.libtensorflow} on ${result.usingGpu ? 'GPU' : 'CPU'} (${result.status}, ${result.seconds.toFixed(0)} s)\n`);

const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const run = spawnSync(process.execPath, [vitest, 'run', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PARGS_BACKEND: 'tensorflow' },
});
process.exit(run.status ?? 1);
