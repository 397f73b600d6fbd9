/**
 * The CLI's progress display: `progressReporter()` drawing a bar with rate and ETA on a terminal, and
 * plain lines (first, each tenth, last) when stderr is a pipe or a file, or with --json, so logs and
 * tests read whole lines.
 */
import { progressReporter, type ProgressCallback, type ProgressReporterOptions, type ProgressSink } from '../progress/reporter.js';
import type { CommandIO } from './args.js';

/** A sink that hands `err` one line at a time (the reporter only draws bars on a TTY sink). */
function lineSink(err: (line: string) => void): ProgressSink {
  let pending = '';
  return {
    isTTY: false,
    write(text: string) {
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() as string;
      for (const line of lines) err(line);
    },
  };
}

export function cliProgress(io: CommandIO, options: { json?: boolean } & Pick<ProgressReporterOptions, 'every' | 'describe'> = {}): ProgressCallback {
  const bar = !options.json && io.progress?.isTTY === true;
  const stream = bar ? (io.progress as ProgressSink) : lineSink(io.err);
  const reporter = progressReporter({ stream, tty: bar, every: options.every, describe: options.describe });
  // Ctrl-C: end a half-drawn bar so the "stopping" and "stopped" lines start on a line of their own.
  io.signal.addEventListener('abort', () => reporter.close(), { once: true });
  return reporter;
}
