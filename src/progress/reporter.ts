/**
 * progressReporter(): turns the `onProgress` events of pargs' long calls (trainPartialRM,
 * extractPrefixFeatures, pretrainLM, runDemo's onEvent) into a display a person can read — one updating
 * bar with rate and ETA on a terminal, a plain line per 10 % when the output is a pipe or a file — so
 * `onProgress: progressReporter()` replaces printing raw event objects.
 */
import { boolean, checkOptions, custom, func, integer, type Schema } from '../options.js';
import { formatProgress } from './format.js';

/** Where the reporter writes; `process.stderr` by default. */
export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressReporterOptions {
  stream?: ProgressSink;
  /** Draw an updating bar (default: when the stream is a TTY). */
  tty?: boolean;
  /** Clock in ms (tests inject one). */
  now?: () => number;
  /** Without a bar: also print a line every `every` units (default: only the first, each tenth and the last). */
  every?: number;
  /**
   * Own text for an event that is not a counter (a caller's detailed eval report, say): a string is
   * printed as one or more lines, '' hides the event; undefined falls back to the built-in description.
   */
  describe?: (event: Record<string, unknown>) => string | undefined;
}

/** The `onProgress` callback; `close()` ends a bar left open (a run stopped midway) before other output. */
export type ProgressCallback = ((event: unknown) => void) & { close(): void };

/** A counted piece of work read off an event: label, position, total, unit and a short detail. */
interface Counted {
  label: string;
  done: number;
  total: number;
  unit: string;
  detail?: string;
}

type AnyEvent = Record<string, unknown>;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Reads the counted progress out of any pargs event shape, or undefined for a one-off event. */
function counted(e: AnyEvent): Counted | undefined {
  const tag = (e.kind ?? e.type) as string | undefined;
  if (tag === 'features' && num(e.sequences) !== undefined) {
    return { label: `features${e.split ? ` (${String(e.split)})` : ''}`, done: num(e.sequencesDone) ?? 0, total: num(e.sequences) as number, unit: 'seq' };
  }
  if (tag === 'step') {
    const total = num(e.totalSteps) ?? num(e.steps);
    if (total === undefined) return undefined;
    const loss = num(e.loss);
    const acc = num(e.accuracy);
    const tokensPerSec = num(e.tokensPerSec);
    const detail = [
      loss !== undefined ? `loss ${loss.toFixed(4)}` : '',
      acc !== undefined ? `acc ${acc.toFixed(3)}` : '',
      tokensPerSec !== undefined ? `${Math.round(tokensPerSec)} tok/s` : '',
    ].filter(Boolean).join('  ');
    // A staged objective (FaRMA's rounds) names the stage of the step.
    const staged = typeof e.stage === 'string' && e.stage ? `${e.stage}  ${detail}`.trimEnd() : detail;
    return { label: 'training', done: num(e.step) ?? 0, total, unit: 'step', detail: staged };
  }
  if (tag === 'progress' && num(e.total) !== undefined) {
    return { label: String(e.stage ?? 'progress'), done: num(e.done) ?? 0, total: num(e.total) as number, unit: typeof e.unit === 'string' ? e.unit : 'item' };
  }
  return undefined;
}

/** A one-line description of an event that is not a counter (eval, checkpoint, stage, …). */
function oneOff(e: AnyEvent): string | undefined {
  const tag = (e.kind ?? e.type) as string | undefined;
  switch (tag) {
    case 'stage':
      return String(e.stage);
    case 'checkpoint':
      return `checkpoint at step ${String(e.step)} → ${String(e.dir)}`;
    case 'resumed':
    case 'resume':
      return `resumed at step ${String(e.step)}${e.dir ? ` from ${String(e.dir)}` : ''}`;
    case 'eval': {
      const d = e.diagnostics as Record<string, unknown> | undefined;
      if (d && num(d.prefixAccuracy) !== undefined) return `eval at step ${String(e.step)}: held-out accuracy ${(num(d.fullAccuracy) ?? NaN).toFixed(3)} (full), ${(d.prefixAccuracy as number).toFixed(3)} (all prefixes)`;
      if (num(e.valLoss) !== undefined) return `eval at step ${String(e.step)}: held-out loss ${(e.valLoss as number).toFixed(4)}`;
      return `eval at step ${String(e.step)}`;
    }
    case 'encoded': {
      const r = e.report as Record<string, unknown> | undefined;
      return `encoded ${String(e.split)} pairs: kept ${String(r?.kept ?? '?')} of ${String(r?.total ?? '?')}`;
    }
    case 'note':
      return `note: ${String(e.message)}`;
    case 'done':
      return `done: ${String(e.steps)} steps, held-out loss ${(num(e.valLoss) ?? NaN).toFixed(4)}`;
    default:
      return tag ? tag : undefined;
  }
}

/**
 * Returns an `onProgress` callback that displays pargs events on `stream` (stderr by default). Events
 * it reads: trainPartialRM's `features` / `step` / `eval` / `checkpoint` / `resumed` / `note`,
 * pretrainLM's `step` / `eval` / `note` / `done`, and `{ kind: 'progress', stage, done, total, unit? }`
 * (runDemo, pargs eval, evaluateLM) and `{ kind: 'stage', stage }`.
 */
export const PROGRESS_REPORTER_SCHEMA: Schema = {
  stream: custom('a stream with write(text)', (v) => v !== null && typeof v === 'object' && typeof (v as ProgressSink).write === 'function', [{}, 'stderr']),
  tty: boolean(),
  now: func(),
  every: integer({ min: 1 }),
  describe: func(),
};

export function progressReporter(options: ProgressReporterOptions = {}): ProgressCallback {
  checkOptions('progressReporter', options, PROGRESS_REPORTER_SCHEMA);
  const stream: ProgressSink = options.stream ?? process.stderr;
  const tty = options.tty ?? Boolean(stream.isTTY);
  const now = options.now ?? (() => performance.now());
  let task: { label: string; total: number; start: number; doneAtStart: number; lastTenth: number; lastPrinted: number } | undefined;
  let lineOpen = false;

  const closeLine = (): void => {
    if (lineOpen) stream.write('\n');
    lineOpen = false;
  };

  const report = (event: unknown): void => {
    if (event === null || typeof event !== 'object') return;
    const e = event as AnyEvent;
    const c = counted(e);
    if (!c) {
      const text = options.describe?.(e) ?? oneOff(e);
      if (text === undefined || text === '') return;
      closeLine();
      stream.write(`${text}\n`);
      return;
    }
    // A new label or total starts a new task (the eval split's feature pass after the train split's).
    if (!task || task.label !== c.label || task.total !== c.total) {
      closeLine();
      task = { label: c.label, total: c.total, start: now(), doneAtStart: c.done, lastTenth: -1, lastPrinted: -Infinity };
    }
    const line = formatProgress({ ...c, elapsedMs: now() - task.start, doneAtStart: task.doneAtStart }, tty);
    const finished = c.done >= c.total;
    if (tty) {
      lineOpen = true; // before the write: a close() from inside it (an abort) must see the open line
      stream.write(`\r${line}\x1b[K`);
      if (finished) closeLine();
    } else {
      const tenth = Math.floor((10 * c.done) / Math.max(1, c.total));
      const due = options.every !== undefined && c.done - task.lastPrinted >= options.every;
      if (tenth > task.lastTenth || finished || due) {
        task.lastTenth = tenth;
        task.lastPrinted = c.done;
        stream.write(`${line}\n`);
      }
    }
    if (finished) task = undefined;
  };
  return Object.assign(report, { close: closeLine });
}
