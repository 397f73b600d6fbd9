/**
 * `pargs native install|status` from the outside (child processes). The full install (npm + pip wheel +
 * node-gyp, ~40 s) is what `npm run test:native` itself runs before this suite on native; here: the
 * refusals and skips that happen before anything is installed, and, where a binding is provisioned,
 * that a second install is a no-op and status reports what loads.
 */
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importNativeBinding } from '../../src/engine/native/import.js';
import { spawnCli } from '../helpers/spawn-cli.js';

const NATIVE = (await importNativeBinding()).loaded?.origin === 'native home';
const emptyHome = (): Promise<string> => mkdtemp(join(tmpdir(), 'pargs-native-home-'));

describe('pargs native', () => {
  it('without pip, a wheel-only install is skipped at once: exit 0, the reason, nothing installed', async () => {
    const home = await emptyHome();
    const { code, stdout } = await spawnCli(['native', 'install', '--source', 'wheel'], { PARGS_NATIVE_HOME: home, PARGS_PYTHON: '/nonexistent/python3' }).done;
    expect(code).toBe(0);
    expect(stdout).toMatch(/^skipped: no libtensorflow source \(no pip to fetch tensorflow-cpu==2\.21\.0 \(\/nonexistent\/python3 -m pip does not run/m);
    expect(stdout).toMatch(/keeps running on WebAssembly/);
    expect(await readdir(home)).toEqual([]);
  });

  it('a --wheel that does not exist is a BackendError (exit 2) naming it, before anything is installed', async () => {
    const home = await emptyHome();
    const { code, stderr } = await spawnCli(['native', 'install', '--wheel', '/no/such.whl'], { PARGS_NATIVE_HOME: home }).done;
    expect(code).toBe(2);
    expect(stderr).toMatch(/BackendError: the TensorFlow wheel "\/no\/such\.whl" does not exist; give the path of a tensorflow-cpu==2\.21\.0 \.whl file/);
    expect(await readdir(home)).toEqual([]);
  });

  it('bad actions and sources are usage errors (exit 2)', async () => {
    const bad = await spawnCli(['native', 'instal']).done;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/give "install" or "status" \(got "instal"\)/);
    const source = await spawnCli(['native', 'install', '--source', 'ftp']).done;
    expect(source.code).toBe(2);
    expect(source.stderr).toMatch(/--source must be one of auto, tfjs, wheel, got "ftp"/);
  });

  it('status on an empty home: nothing provisioned', async () => {
    const { code, stdout } = await spawnCli(['native', 'status', '--json'], { PARGS_NATIVE_HOME: await emptyHome() }).done;
    expect(code).toBe(0);
    const status = JSON.parse(stdout) as { bindings: { package: string; installed: boolean; loads: boolean }[] };
    expect(status.bindings.map((b) => [b.package, b.installed, b.loads])).toEqual([
      ['@tensorflow/tfjs-node', false, false],
      ['@tensorflow/tfjs-node-gpu', false, false],
    ]);
  });

  it.runIf(NATIVE)('provisioned: install again is a no-op, and status says it loads libtensorflow on this device', async () => {
    const again = await spawnCli(['native', 'install', '--json']).done;
    expect(again.code).toBe(0);
    const result = JSON.parse(again.stdout) as { status: string; libtensorflow: string; seconds: number };
    expect(result.status).toBe('present');
    expect(result.libtensorflow).toMatch(/^2\.\d+\.\d+/);
    const status = await spawnCli(['native', 'status']).done;
    expect(status.stdout).toMatch(/@tensorflow\/tfjs-node\s+loads: libtensorflow 2\.\d+\.\d+ on (CPU|GPU)/);
  });
});
