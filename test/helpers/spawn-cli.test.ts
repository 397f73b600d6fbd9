/** The child-process helper itself: a real `pargs` process with its exit code and output. */
import { describe, expect, it } from 'vitest';
import { spawnCli } from './spawn-cli.js';

describe('spawnCli', () => {
  it('runs pargs from src in a child process and reports its exit code', async () => {
    const run = spawnCli(['no-such-command']);
    const { code, stderr } = await run.done;
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown command "no-such-command"/);
  });
});
