/**
 * Chat templates rendered with limits. A template arrives with a downloaded model folder, so it is
 * untrusted input, and @huggingface/jinja runs it without bounds: `range(1000000000)` builds a
 * billion-item list and exhausts the heap, a recursive macro overflows the stack (and the engine's
 * variable lookup swallows the overflow as "undefined"), a doubling loop writes gigabytes. Here the same
 * interpreter runs with counters: every evaluation step checks nesting depth, the deadline and the size
 * of what it produced, every for loop counts its items before iterating, and `range` refuses a list
 * past the limit before building it. The first limit crossed is a TemplateError naming the file.
 */
import * as jinja from '@huggingface/jinja';
import { TemplateError, type TemplateLimit } from '../errors.js';

/** What one rendering may do. Each is far above what the templates models ship need. */
export type TemplateLimits = Readonly<Record<TemplateLimit, number>>;

export const TEMPLATE_LIMITS: TemplateLimits = {
  // The engine spends ≈ 4 µs on an empty iteration, so this is ≈ 0.4 s of looping; templates loop over
  // messages, tools and content parts.
  loopIterations: 20_000,
  // Of any list a template builds (range(), split(), +); a longer one could not be looped over anyway.
  listItems: 100_000,
  // Of any string value, and of all text and {{ }} output written (what macros write counts twice, once
  // in the macro and once where it is called). 4 Mi characters ≈ 1 M tokens, beyond any context.
  characters: 4 * 2 ** 20,
  // Nested evaluations: a recursive macro costs ≈ 3 per call. The stack overflows near 1,000 on Node's
  // default stack, and overflow inside the engine's variable lookup is silently read as "undefined".
  depth: 256,
  // Wall time of one rendering, the backstop for work the counters above do not see (one slow filter
  // on a long string, repeated many times); real templates render in well under a millisecond.
  milliseconds: 1000,
};

const DESCRIBE: Record<TemplateLimit, string> = {
  loopIterations: 'loop iterations',
  listItems: 'items in a list',
  characters: 'characters of text',
  depth: 'nested evaluations (a recursive macro, or an expression nested this deep)',
  milliseconds: 'milliseconds of rendering',
};

// The package's declarations re-export these from extensionless paths NodeNext cannot resolve (they
// arrive as `any`), so the few members used here are typed locally.
interface Node {
  type: string;
}
interface Program extends Node {
  body: Node[];
}
interface Value {
  type: string;
  value: unknown;
  toString(): string;
}
interface Environment {
  set(name: string, value: unknown): unknown;
}
interface InterpreterBase {
  run(program: Program): Value;
  evaluate(statement: Node | undefined, environment: Environment): Value;
}
const Interpreter = jinja.Interpreter as new (env: Environment) => InterpreterBase;
const newEnvironment = (): Environment => new (jinja.Environment as new () => Environment)();
const parse = jinja.parse as (tokens: unknown) => Program;
const tokenize = jinja.tokenize as (source: string, options: { lstrip_blocks: boolean; trim_blocks: boolean }) => unknown;

/** A node pargs puts around each for loop's iterable, so the loop's items are counted before it runs. */
const LOOP_ITEMS = 'PargsLoopItems';
interface LoopItems {
  type: typeof LOOP_ITEMS;
  inner: Node;
}

/** Statements whose value is written into the output (text, {{ }}, call blocks), not containers. */
const WRITES = new WeakSet<object>();
const CONTAINERS = new Set(['For', 'If']);
/** The AST properties that hold a block of statements (Program, If, For, Set, Macro, Filter, Call). */
const BLOCKS = new Set(['body', 'alternate', 'defaultBlock']);

function isNode(value: unknown): value is Node {
  return value !== null && typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string';
}

/** Marks written statements and wraps for-loop iterables, walking every child node once. */
function prepare(node: Node): void {
  if (node.type === 'For') {
    const loop = node as Node & { iterable: Node & { lhs?: Node } };
    // The engine special-cases `for x in xs if test` by the iterable's type: wrap its list instead.
    if (loop.iterable.type === 'SelectExpression') loop.iterable.lhs = { type: LOOP_ITEMS, inner: loop.iterable.lhs } as unknown as Node;
    else loop.iterable = { type: LOOP_ITEMS, inner: loop.iterable } as unknown as Node & { lhs?: Node };
  }
  for (const [key, child] of Object.entries(node)) {
    if (Array.isArray(child)) {
      for (const item of child) {
        if (!isNode(item)) continue;
        if (BLOCKS.has(key) && !CONTAINERS.has(item.type)) WRITES.add(item);
        prepare(item);
      }
    } else if (child instanceof Map) {
      for (const [k, v] of child) [k, v].forEach((n: unknown) => isNode(n) && prepare(n));
    } else if (isNode(child)) {
      prepare(child.type === LOOP_ITEMS ? (child as unknown as LoopItems).inner : child);
    }
  }
}

/** Parses a template (with the trim and lstrip rules of transformers) and prepares it for counting. */
export function compileTemplate(source: string): Program {
  const program = parse(tokenize(source, { lstrip_blocks: true, trim_blocks: true }));
  prepare(program);
  return program;
}

class LimitExceeded extends Error {
  constructor(readonly limit: TemplateLimit, readonly detail: string) {
    super(detail);
  }
}

/** Python's `range` over integers, refusing a list past the limit before building it. */
function boundedRange(limits: TemplateLimits) {
  return (...args: unknown[]): number[] => {
    if (args.length === 0 || args.length > 3 || !args.every((a) => Number.isSafeInteger(a))) {
      throw new Error(`range() takes one to three integers, got ${args.map((a) => JSON.stringify(a)).join(', ')}`);
    }
    const [start, stop, step] = args.length === 1 ? [0, args[0] as number, 1] : [args[0] as number, args[1] as number, (args[2] as number | undefined) ?? 1];
    if (step === 0) throw new Error('range() step must not be zero');
    const length = Math.max(0, Math.ceil((stop - start) / step));
    if (length > limits.listItems) throw new LimitExceeded('listItems', `range(${args.join(', ')}) has ${length} items`);
    return Array.from({ length }, (_, i) => start + i * step);
  };
}

/** strftime_now as @huggingface/jinja defines it (%Y %m %d %b %B %H %M %%), local time. */
function strftimeNow(format: unknown): string {
  const date = new Date();
  const pad2 = (n: number): string => String(n).padStart(2, '0');
  const month = (style: 'long' | 'short'): string => new Intl.DateTimeFormat(undefined, { month: style }).format(date);
  const parts: Record<string, () => string> = {
    '%Y': () => String(date.getFullYear()),
    '%m': () => pad2(date.getMonth() + 1),
    '%d': () => pad2(date.getDate()),
    '%b': () => month('short'),
    '%B': () => month('long'),
    '%H': () => pad2(date.getHours()),
    '%M': () => pad2(date.getMinutes()),
    '%%': () => '%',
  };
  return String(format).replace(/%[YmdbBHM%]/g, (token) => parts[token]());
}

class BoundedInterpreter extends Interpreter {
  private depth = 0;
  private iterations = 0;
  private written = 0;

  constructor(
    env: Environment,
    private readonly limits: TemplateLimits,
    private readonly deadline: number,
  ) {
    super(env);
  }

  override evaluate(statement: Node | undefined, environment: Environment): Value {
    if (statement === undefined) return super.evaluate(statement, environment);
    if (++this.depth > this.limits.depth) throw new LimitExceeded('depth', `evaluations nested ${this.depth} deep`);
    try {
      if (performance.now() > this.deadline) throw new LimitExceeded('milliseconds', 'the rendering ran out of time');
      const value = statement.type === LOOP_ITEMS ? this.loopItems(statement as unknown as LoopItems, environment) : super.evaluate(statement, environment);
      this.checkSize(value, statement);
      return value;
    } finally {
      this.depth--;
    }
  }

  private loopItems(node: LoopItems, environment: Environment): Value {
    const items = this.evaluate(node.inner, environment);
    const n = items.value instanceof Map ? items.value.size : Array.isArray(items.value) ? items.value.length : 0;
    this.iterations += n;
    if (this.iterations > this.limits.loopIterations) throw new LimitExceeded('loopIterations', `its for loops came to ${this.iterations} iterations`);
    return items;
  }

  private checkSize(value: Value, statement: Node): void {
    if (typeof value.value === 'string' && value.value.length > this.limits.characters) {
      throw new LimitExceeded('characters', `it built a string of ${value.value.length} characters`);
    }
    if (Array.isArray(value.value) && value.value.length > this.limits.listItems) {
      throw new LimitExceeded('listItems', `it built a list of ${value.value.length} items`);
    }
    if (WRITES.has(statement) && value.type !== 'NullValue' && value.type !== 'UndefinedValue') {
      this.written += typeof value.value === 'string' ? value.value.length : value.toString().length;
      if (this.written > this.limits.characters) throw new LimitExceeded('characters', `it wrote ${this.written} characters`);
    }
  }
}

/**
 * V8's own limits reached inside one operation of the engine (a string or list past V8's maximum, the
 * stack), read as the pargs limit they stand for.
 */
function engineLimit(err: unknown): { limit: TemplateLimit; detail: string } | undefined {
  if (!(err instanceof RangeError)) return undefined;
  if (/Invalid (string|array) length/.test(err.message)) return { limit: 'characters', detail: err.message };
  if (/Maximum call stack size exceeded/.test(err.message)) return { limit: 'depth', detail: err.message };
  return undefined;
}

/**
 * Renders a compiled template with `variables`. A crossed limit is a TemplateError naming `where`; any
 * other failure (a `raise_exception`, a type error in the template) is returned to the caller as thrown.
 */
export function renderBounded(program: Program, variables: Record<string, unknown>, where: string, limits: TemplateLimits = TEMPLATE_LIMITS): string {
  const env = newEnvironment();
  const globals: Record<string, unknown> = {
    false: false, true: true, none: null, False: false, True: true, None: null,
    raise_exception: (message: unknown) => {
      throw new Error(String(message));
    },
    range: boundedRange(limits),
    strftime_now: strftimeNow,
    ...variables,
  };
  for (const [name, value] of Object.entries(globals)) env.set(name, value);
  try {
    return String(new BoundedInterpreter(env, limits, performance.now() + limits.milliseconds).run(program).value);
  } catch (err) {
    const { limit, detail } = err instanceof LimitExceeded ? err : (engineLimit(err) ?? {});
    if (limit === undefined) throw err;
    throw new TemplateError(
      `the chat_template of ${where} exceeded its limit of ${limits[limit]} ${DESCRIBE[limit]} (${detail}); a model's template is untrusted input, so pargs stops it there. Fix or remove the template in that file, or use another model`,
      limit,
    );
  }
}
