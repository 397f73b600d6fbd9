/**
 * A small typed flag schema for the CLI: each command declares its flags once, and the parser, the
 * validation errors and the `--help` text all come from that declaration.
 */
import type { ProgressSink } from '../progress/reporter.js';
import { OptionError } from '../errors.js';

export type FlagSpec =
  | { type: 'string'; help: string; default?: string; placeholder?: string }
  | { type: 'number'; help: string; default?: number; integer?: boolean; min?: number; max?: number; placeholder?: string }
  | { type: 'boolean'; help: string }
  /** Repeatable: each occurrence adds one value, in order (none given → an empty list). */
  | { type: 'strings'; help: string; placeholder?: string };

export type FlagSchema = Record<string, FlagSpec>;

export type ParsedFlags<S extends FlagSchema> = {
  [K in keyof S]: S[K] extends { type: 'boolean' } ? boolean
    : S[K] extends { type: 'number' } ? number | undefined
    : S[K] extends { type: 'strings' } ? string[]
    : string | undefined;
};

export interface CommandIO {
  /** Results (stdout). */
  out: (line: string) => void;
  /** Progress and diagnostics (stderr). */
  err: (line: string) => void;
  /** Fires on Ctrl-C so long commands stop cleanly. */
  signal: AbortSignal;
  /**
   * The raw stream progress bars are drawn on (the process's stderr when `err` is); absent, progress
   * goes through `err` as plain lines.
   */
  progress?: ProgressSink;
}

export interface Command<S extends FlagSchema = FlagSchema> {
  name: string;
  summary: string;
  usage: string;
  flags: S;
  /** Positional arguments accepted (names for help), e.g. ['DIR']. */
  positionals?: string[];
  run(flags: ParsedFlags<S>, positionals: string[], io: CommandIO): Promise<number>;
}

/** Defines a command with its flag types inferred from the schema. */
export function defineCommand<S extends FlagSchema>(command: Command<S>): Command<S> {
  return command;
}

const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export function parseFlags<S extends FlagSchema>(schema: S, argv: readonly string[], command: string): { flags: ParsedFlags<S>; positionals: string[] } {
  const byFlag = new Map(Object.keys(schema).map((key) => [`--${kebab(key)}`, key]));
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const key = byFlag.get(flag);
    if (!key) throw new OptionError(`pargs ${command}: unknown flag ${flag}; run "pargs ${command} --help" for the flags it takes`);
    const spec = schema[key];
    if (spec.type === 'boolean') {
      if (inline !== undefined) throw new OptionError(`pargs ${command}: ${flag} takes no value`);
      values[key] = true;
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw new OptionError(`pargs ${command}: ${flag} needs a value`);
    // `--prompt --json` forgot the prompt: the next flag is not its value (`--prompt=--json` says it is).
    if (inline === undefined && byFlag.has(raw.split('=')[0])) {
      throw new OptionError(`pargs ${command}: ${flag} needs a value, but is followed by the flag ${raw}; give the value (write ${flag}=${raw} if the value really is "${raw}")`);
    }
    if (spec.type === 'string') {
      values[key] = raw;
      continue;
    }
    if (spec.type === 'strings') {
      ((values[key] ??= []) as string[]).push(raw);
      continue;
    }
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new OptionError(`pargs ${command}: ${flag} must be a number, got "${raw}"`);
    if (spec.integer && !Number.isInteger(n)) throw new OptionError(`pargs ${command}: ${flag} must be an integer, got ${raw}`);
    if (spec.min !== undefined && n < spec.min) throw new OptionError(`pargs ${command}: ${flag} must be at least ${spec.min}, got ${raw}`);
    if (spec.max !== undefined && n > spec.max) throw new OptionError(`pargs ${command}: ${flag} must be at most ${spec.max}, got ${raw}`);
    values[key] = n;
  }
  for (const [key, spec] of Object.entries(schema)) {
    if (values[key] === undefined) values[key] = spec.type === 'boolean' ? false : spec.type === 'strings' ? [] : spec.default;
  }
  return { flags: values as ParsedFlags<S>, positionals };
}

export function helpText(c: Command): string {
  const rows = Object.entries(c.flags).map(([key, spec]) => {
    const value = spec.type === 'boolean' ? '' : ` ${('placeholder' in spec && spec.placeholder) || (spec.type === 'number' ? 'N' : 'VALUE')}`;
    const def = 'default' in spec && spec.default !== undefined ? ` (default ${spec.default})` : spec.type === 'strings' ? ' (repeatable)' : '';
    return `  --${kebab(key)}${value}`.padEnd(30) + ` ${spec.help}${def}`;
  });
  return [`pargs ${c.name} — ${c.summary}`, '', `usage: ${c.usage}`, '', ...rows].join('\n');
}
