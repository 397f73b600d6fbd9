/**
 * Typed errors. Every error pargs throws on bad input is a `PargsError` subclass whose message names
 * the offending value and says what to do, so callers can `instanceof`-switch and users can act.
 */
export class PargsError extends Error {
  override name = 'PargsError';
}

/** An option passed to a pargs function is missing, of the wrong type or out of range. */
export class OptionError extends PargsError {
  override name = 'OptionError';
}

/**
 * An object was used after its `dispose()`: a CausalLM, a reward model or its head, a KV cache, a feature
 * store, a tensor. The message names the object and the function. An `OptionError`, as it was before it
 * had its own class.
 */
export class DisposedError extends OptionError {
  override name = 'DisposedError';
}

/** A model folder's config.json names an architecture, field or value pargs does not support. */
export class ConfigError extends PargsError {
  override name = 'ConfigError';
}

/** A safetensors file or shard index is malformed, or a tensor is missing or has the wrong shape. */
export class SafetensorsError extends PargsError {
  override name = 'SafetensorsError';
}

/** A tokenizer.json / tokenizer_config.json pair cannot be loaded or used. */
export class TokenizerError extends PargsError {
  override name = 'TokenizerError';
}

/** The rendering limits a chat template can exceed (see `TEMPLATE_LIMITS` in src/lm/template-limits.ts). */
export type TemplateLimit = 'loopIterations' | 'listItems' | 'characters' | 'depth' | 'milliseconds';

/**
 * A model's chat template exceeded a rendering limit (loop iterations, list items, characters, nesting
 * depth or time). A template arrives with a downloaded model folder, so pargs treats it as untrusted
 * input and stops it there instead of letting it hang or exhaust the heap. The message names the file.
 */
export class TemplateError extends TokenizerError {
  override name = 'TemplateError';
  constructor(
    message: string,
    /** Which limit the template exceeded. */
    readonly limit: TemplateLimit,
  ) {
    super(message);
  }
}

/** A preference data file or row is malformed. */
export class DataError extends PargsError {
  override name = 'DataError';
}

/** A checkpoint is corrupted, incomplete or was made for another backbone. */
export class CheckpointError extends PargsError {
  override name = 'CheckpointError';
}

/**
 * An output folder or file cannot be used or written: it is a file, a non-empty folder pargs did not
 * write, the backbone's own folder, an earlier result (without overwrite), read-only, or on a full disk.
 */
export class OutputError extends PargsError {
  override name = 'OutputError';
}

/** Another live pargs process holds the lock of an output or work folder. */
export class LockError extends OutputError {
  override name = 'LockError';
}

/** Training produced a non-finite loss or otherwise cannot continue. */
export class TrainingError extends PargsError {
  override name = 'TrainingError';
}

/** Thrown when an `AbortSignal` passed to a long-running call fires. */
export class AbortError extends PargsError {
  override name = 'AbortError';
}

/** Throws an `AbortError` if `signal` has fired; call between units of work. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortError(`${what} was aborted`);
}

/** Guided decoding met a non-finite reward or score (a diverged head, or β too large for the rewards). */
export class DecodingError extends PargsError {
  override name = 'DecodingError';
}

/**
 * A worker thread failed: it threw while loading the model or running its share of the work, or it
 * exited unexpectedly. The message names the worker and carries the worker's own error message.
 */
export class WorkerError extends PargsError {
  override name = 'WorkerError';
  constructor(
    message: string,
    /** The error class the worker reported (e.g. 'SafetensorsError'), or 'exit' when it crashed. */
    readonly workerErrorName: string = 'Error',
  ) {
    super(message);
  }
}

/**
 * The native TensorFlow backend cannot be provisioned or loaded: a build step failed, a library is
 * missing, or a requested GPU is absent. The message names the step, its output and the fix.
 */
export class BackendError extends PargsError {
  override name = 'BackendError';
}

/**
 * A model cannot fit the memory of the backend it would run on (the 4 GiB WebAssembly heap, free system
 * memory, or PARGS_MEMORY_LIMIT). Thrown from config.json alone, before any weight is read; the message
 * names the bytes needed, the limit, and the fix (usually the native backend).
 */
export class ModelTooLargeError extends PargsError {
  override name = 'ModelTooLargeError';
  constructor(
    message: string,
    /** Estimated bytes the model needs on the backend (weights, backend copies, one sequence's working memory). */
    readonly neededBytes: number,
    /** Bytes the backend had available. */
    readonly availableBytes: number,
    /** The backend the model was refused on. */
    readonly backend: string,
  ) {
    super(message);
  }
}
