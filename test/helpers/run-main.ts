/** Runs `pargs ARGV` in this process through main(), capturing its stdout and stderr lines. */
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

export async function runMain(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  // Streamed tokens go straight to process.stdout; keep them out of the test output.
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    return { code: await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }), out, err };
  } finally {
    write.mockRestore();
  }
}
