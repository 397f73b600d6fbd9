/**
 * Runs one external step of native provisioning (npm, pip, python, node-gyp, strip) as a child process:
 * output kept for the error message, a time limit, and the caller's AbortSignal killing the child.
 */
import { spawn } from 'node:child_process';
import { AbortError, BackendError } from '../../errors.js';

export interface StepOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Kill the step after this long; a stuck download must not stall an install forever. */
  timeoutMs?: number;
  /** One line naming what the step does, for error messages. */
  what: string;
}

export interface StepResult {
  code: number;
  stdout: string;
  stderr: string;
}

const TAIL_CHARS = 1500;

/** The last lines of a step's output, enough to see why it failed without flooding the terminal. */
export function tail(text: string): string {
  const t = text.trim();
  return t.length <= TAIL_CHARS ? t : `…${t.slice(-TAIL_CHARS)}`;
}

/** Runs `command args`; resolves with its exit code and output (a non-zero exit is not an error here). */
export function runStep(command: string, args: readonly string[], opts: StepOptions): Promise<StepResult> {
  if (opts.signal?.aborted) return Promise.reject(new AbortError(`${opts.what} was aborted`));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let settled = false;
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const kill = (): void => {
      child.kill('SIGTERM');
    };
    const onAbort = (): void => kill();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.timeoutMs);
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    child.on('error', (err) => finish(() => reject(new BackendError(`${opts.what}: cannot run "${command}": ${err.message}`))));
    child.on('close', (code, signal) =>
      finish(() => {
        if (opts.signal?.aborted) reject(new AbortError(`${opts.what} was aborted`));
        else if (timedOut) resolve({ code: 124, stdout, stderr: `${stderr}\n(stopped after ${opts.timeoutMs} ms)` });
        else resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
      }),
    );
  });
}

/** Runs a step that must succeed; a failure is a BackendError with the step's output and `fix`. */
export async function runRequired(command: string, args: readonly string[], opts: StepOptions & { fix: string }): Promise<StepResult> {
  const result = await runStep(command, args, opts);
  if (result.code !== 0) {
    throw new BackendError(`${opts.what} failed (exit ${result.code}): ${tail(result.stderr || result.stdout)}\nFix: ${opts.fix}`);
  }
  return result;
}
