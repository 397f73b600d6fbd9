/**
 * Reading and writing safetensors files on the host, independent of TensorFlow.
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then raw little-endian row-major
 * tensor data whose `data_offsets` are relative to byte 8 + N. Files can exceed 2 GiB, so everything is
 * read with positional range reads on one open handle; a whole file is never loaded into one buffer.
 */
import { promises as fs } from 'node:fs';
import { OptionError, SafetensorsError } from '../errors.js';
import { arrayOf, checkArgument, checkOptions, custom, integer, object, required, string, type Schema } from '../options.js';
import { writeFileAtomic } from './atomic.js';
import { decodeBF16, decodeF16, encodeBF16, encodeF16, widenInPlace } from './float16.js';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_SIZE: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** One tensor's header entry; `begin`/`end` are absolute byte offsets in the file. */
export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** Floats (F64/F32/F16/BF16) → Float32Array, I32/I16/I8 → Int32Array, U8/BOOL → Uint8Array, I64 → BigInt64Array. */
export type HostData = Float32Array | Int32Array | Uint8Array | BigInt64Array;

/** A tensor read from a file; `dtype` is the stored dtype, not the dtype of `data`. */
export interface HostTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: HostData;
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Absolute offset of the data section (8 + header length). */
  dataStart: number;
  fileSize: number;
}

export interface SafetensorsReadOptions {
  /** Largest single positional read in bytes (default 256 MiB; a read call cannot exceed 2 GiB). */
  rangeBytes?: number;
}

/** The subset of `FileHandle` needed for range reads, so tests can observe the calls. */
export type PositionalReader = Pick<fs.FileHandle, 'read'>;

const DEFAULT_RANGE_BYTES = 256 * 1024 * 1024;
const MAX_RANGE_BYTES = 0x7fffffff;
// The reference implementation rejects headers over 100 MB; a bigger one means corruption.
const MAX_HEADER_BYTES = 100_000_000;
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isDtype(value: string): value is SafetensorsDtype {
  return Object.prototype.hasOwnProperty.call(DTYPE_SIZE, value);
}

function requireLittleEndian(): void {
  // Typed-array views use host byte order and safetensors is little-endian.
  if (!HOST_IS_LITTLE_ENDIAN) throw new SafetensorsError('safetensors I/O needs a little-endian host');
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isValidShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** The error for an unknown tensor name, listing a few names that do exist. */
export function missingTensorError(name: string, where: string, names: string[]): SafetensorsError {
  const shown = names.slice(0, 8).join(', ') + (names.length > 8 ? `, … (${names.length} in all)` : '');
  return new SafetensorsError(`Tensor "${name}" not found in ${where}; it has: ${shown || '(none)'}`);
}

/** Reads `length` bytes at `position` into a fresh, 0-offset buffer, in reads of at most `rangeBytes`. */
export async function readRange(
  handle: PositionalReader, file: string, position: number, length: number,
  rangeBytes: number = DEFAULT_RANGE_BYTES,
): Promise<Uint8Array<ArrayBuffer>> {
  const out = new Uint8Array(length);
  await readRangeInto(handle, file, position, out, rangeBytes);
  return out;
}

/** Fills `out` with the bytes at `position`, in reads of at most `rangeBytes` (one read call tops out at 2 GiB). */
async function readRangeInto(handle: PositionalReader, file: string, position: number, out: Uint8Array, rangeBytes: number): Promise<void> {
  let done = 0;
  while (done < out.length) {
    const want = Math.min(rangeBytes, out.length - done);
    const { bytesRead } = await handle.read(out, done, want, position + done);
    if (bytesRead === 0) {
      throw new SafetensorsError(`${file}: unexpected end of file at byte ${position + done} (truncated?)`);
    }
    done += bytesRead;
  }
}

async function openForRead(file: string): Promise<fs.FileHandle> {
  try {
    return await fs.open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new SafetensorsError(`Cannot open safetensors file ${file} (${code})`);
  }
}

async function parseHeader(
  handle: PositionalReader, file: string, fileSize: number, rangeBytes: number,
): Promise<SafetensorsHeader> {
  const fail = (msg: string, tensor?: string): SafetensorsError =>
    new SafetensorsError(`Invalid safetensors file ${file}${tensor === undefined ? '' : `, tensor "${tensor}"`}: ${msg}`);
  if (fileSize < 8) throw fail(`file is ${fileSize} bytes, shorter than the 8-byte header length`);
  const prefix = await readRange(handle, file, 0, 8);
  const declared = new DataView(prefix.buffer).getBigUint64(0, true);
  if (declared === 0n) throw fail('header length is 0');
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    throw fail(`header length ${declared} is over ${MAX_HEADER_BYTES} bytes; the file is corrupt or not safetensors`);
  }
  const headerLength = Number(declared);
  const dataStart = 8 + headerLength;
  if (dataStart > fileSize) throw fail(`header length ${headerLength} runs past the end of the ${fileSize}-byte file`);
  const raw = await readRange(handle, file, 8, headerLength, rangeBytes);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (err) {
    throw fail(`header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (!isRecord(json)) throw fail('header is not a JSON object');
  const dataBytes = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isRecord(entry) || !Object.values(entry).every((v) => typeof v === 'string')) {
        throw fail('"__metadata__" must be an object of string values');
      }
      metadata = Object.fromEntries(Object.entries(entry as Record<string, string>));
      continue;
    }
    if (!isRecord(entry)) throw fail('entry is not an object', name);
    const { dtype, shape, data_offsets: offsets } = entry;
    for (const key of ['dtype', 'shape', 'data_offsets']) {
      if (entry[key] === undefined) throw fail(`entry is missing "${key}"`, name);
    }
    if (typeof dtype !== 'string' || !isDtype(dtype)) {
      throw fail(`unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`, name);
    }
    if (!isValidShape(shape)) throw fail(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`, name);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !isValidShape(offsets)) {
      throw fail(`data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`, name);
    }
    const [begin, end] = offsets;
    if (begin > end) throw fail(`data_offsets [${begin}, ${end}] are reversed`, name);
    if (end > dataBytes) throw fail(`data_offsets [${begin}, ${end}] run past the ${dataBytes}-byte data section`, name);
    const expected = product(shape) * DTYPE_SIZE[dtype];
    if (end - begin !== expected) {
      throw fail(`holds ${end - begin} bytes but ${dtype} shape [${shape.join(', ')}] needs ${expected}`, name);
    }
    tensors.set(name, { name, dtype, shape, begin: dataStart + begin, end: dataStart + end });
  }
  refuseOverlaps(tensors, fail);
  return { tensors, metadata, dataStart, fileSize };
}

/**
 * Two tensors sharing bytes would load as aliases of each other (writing one format, reading another);
 * safetensors forbids it, so it is refused. Sorting by start makes the check O(n log n).
 */
function refuseOverlaps(tensors: ReadonlyMap<string, TensorInfo>, fail: (message: string, name?: string) => Error): void {
  const sorted = [...tensors.values()].filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1];
    const current = sorted[i];
    if (current.begin < previous.end) {
      throw fail(`data_offsets overlap those of "${previous.name}" (bytes ${current.begin}–${previous.end} of the file are shared); each tensor needs its own bytes`, current.name);
    }
  }
}

function checkRangeBytes(options: SafetensorsReadOptions): number {
  const value = options.rangeBytes ?? DEFAULT_RANGE_BYTES;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_RANGE_BYTES) {
    throw new OptionError(`rangeBytes must be an integer from 1 to ${MAX_RANGE_BYTES}, got ${value}`);
  }
  return value;
}

export const READ_OPTIONS_SCHEMA: Schema = { rangeBytes: integer() };

/** Shapes and dtypes are checked by writeSafetensors itself, with the tensor's name in the message. */
const TENSOR_TO_WRITE = object(
  {
    name: required(string()),
    dtype: required(string()),
    shape: required(custom('an array of integers', Array.isArray, ['2', 2, null])),
    data: required(custom('a typed array or an array of numbers', (v) => Array.isArray(v) || ArrayBuffer.isView(v), ['data', 1, null])),
  },
  'a tensor',
  true,
);

/** Parses and validates the header of a safetensors file without reading tensor data. */
export async function readSafetensorsHeader(
  file: string, options: SafetensorsReadOptions = {},
): Promise<SafetensorsHeader> {
  checkArgument('readSafetensorsHeader', 'file', file, required(string()));
  checkOptions('readSafetensorsHeader', options, READ_OPTIONS_SCHEMA);
  const reader = await SafetensorsFile.open(file, options);
  await reader.close();
  return reader.header;
}

/** Turns a tensor's raw little-endian bytes (fresh buffer at offset 0) into host data. */
function toHostData(dtype: SafetensorsDtype, bytes: Uint8Array<ArrayBuffer>): HostData {
  const buf = bytes.buffer;
  const n = bytes.byteLength / DTYPE_SIZE[dtype];
  switch (dtype) {
    case 'F32': return new Float32Array(buf, 0, n);
    case 'F64': return Float32Array.from(new Float64Array(buf, 0, n));
    case 'F16': return decodeF16(new Uint16Array(buf, 0, n));
    case 'BF16': return decodeBF16(new Uint16Array(buf, 0, n));
    case 'I32': return new Int32Array(buf, 0, n);
    case 'I16': return Int32Array.from(new Int16Array(buf, 0, n));
    case 'I8': return Int32Array.from(new Int8Array(buf, 0, n));
    case 'I64': return new BigInt64Array(buf, 0, n);
    case 'U8': case 'BOOL': return bytes;
  }
}

/** Converts any host tensor data to float32 (I64 values beyond 2^24 lose precision). */
export function hostDataToF32(data: HostData): Float32Array {
  if (data instanceof Float32Array) return data;
  if (data instanceof BigInt64Array) return Float32Array.from(data, (v) => Number(v));
  return Float32Array.from(data);
}

/** One safetensors file kept open for positional reads of individual tensors. */
export class SafetensorsFile {
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: fs.FileHandle,
    readonly header: SafetensorsHeader,
    private readonly rangeBytes: number,
  ) {}

  static async open(file: string, options: SafetensorsReadOptions = {}): Promise<SafetensorsFile> {
    checkArgument('SafetensorsFile.open', 'file', file, required(string()));
    checkOptions('SafetensorsFile.open', options, READ_OPTIONS_SCHEMA);
    requireLittleEndian();
    const rangeBytes = checkRangeBytes(options);
    const handle = await openForRead(file);
    try {
      const { size } = await handle.stat();
      return new SafetensorsFile(file, handle, await parseHeader(handle, file, size, rangeBytes), rangeBytes);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  get metadata(): Record<string, string> {
    return this.header.metadata;
  }

  /** Tensor names in header order. */
  names(): string[] {
    return [...this.header.tensors.keys()];
  }

  has(name: string): boolean {
    return this.header.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.header.tensors.get(name);
    if (info === undefined) throw missingTensorError(name, this.path, this.names());
    return info;
  }

  /** The tensor's raw bytes in a fresh buffer, so typed views are aligned whatever the file offset. */
  async readBytes(name: string): Promise<Uint8Array<ArrayBuffer>> {
    const info = this.info(name);
    if (this.closed) throw new SafetensorsError(`${this.path} is closed; cannot read tensor "${name}"`);
    return readRange(this.handle, this.path, info.begin, info.end - info.begin, this.rangeBytes);
  }

  async read(name: string): Promise<HostTensor> {
    const info = this.info(name);
    return { dtype: info.dtype, shape: [...info.shape], data: toHostData(info.dtype, await this.readBytes(name)) };
  }

  /**
   * The tensor as float32. BF16 and F16 are read straight into the upper half of the float32 result
   * and widened in place, so a half-precision tensor costs one float32 buffer, not its raw bytes
   * beside a converted copy (a bf16 checkpoint then loads within its float32 size; bench/scale.ts).
   */
  async readF32(name: string): Promise<Float32Array> {
    const info = this.info(name);
    if (info.dtype !== 'BF16' && info.dtype !== 'F16') return hostDataToF32((await this.read(name)).data);
    if (this.closed) throw new SafetensorsError(`${this.path} is closed; cannot read tensor "${name}"`);
    const length = info.end - info.begin;
    const out = new Float32Array(length / 2);
    await readRangeInto(this.handle, this.path, info.begin, new Uint8Array(out.buffer, length, length), this.rangeBytes);
    return widenInPlace(out, info.dtype);
  }

  /** Reads several tensors in file order, which keeps disk access sequential. */
  async readMany(names: readonly string[]): Promise<Map<string, HostTensor>> {
    const ordered = [...new Set(names)].sort((a, b) => this.info(a).begin - this.info(b).begin);
    const out = new Map<string, HostTensor>();
    for (const name of ordered) out.set(name, await this.read(name));
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

/** Opens `file`, reads one tensor as float32 and closes the file. */
export async function readTensorF32(
  file: string, name: string, options: SafetensorsReadOptions = {},
): Promise<Float32Array> {
  const reader = await SafetensorsFile.open(file, options);
  try {
    return await reader.readF32(name);
  } finally {
    await reader.close();
  }
}

/** Dtypes `writeSafetensors` can produce. */
export type WritableDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'U8';

/** A tensor to write: floats need Float32Array, I32 Int32Array, I64 BigInt64Array or Int32Array, U8 Uint8Array. */
export interface TensorToWrite {
  name: string;
  dtype: WritableDtype;
  shape: readonly number[];
  data: HostData;
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** Encodes one tensor's data as little-endian bytes of its dtype, or returns an error message. */
function encodeTensor(t: TensorToWrite): Uint8Array | string {
  const { dtype, data } = t;
  const floats = data instanceof Float32Array;
  switch (dtype) {
    case 'F32': return floats ? bytesOf(data) : 'F32 needs a Float32Array';
    case 'F16': return floats ? bytesOf(encodeF16(data)) : 'F16 needs a Float32Array';
    case 'BF16': return floats ? bytesOf(encodeBF16(data)) : 'BF16 needs a Float32Array';
    case 'I32': return data instanceof Int32Array ? bytesOf(data) : 'I32 needs an Int32Array';
    case 'U8': return data instanceof Uint8Array ? bytesOf(data) : 'U8 needs a Uint8Array';
    case 'I64':
      if (data instanceof BigInt64Array) return bytesOf(data);
      if (data instanceof Int32Array) return bytesOf(BigInt64Array.from(data, (v) => BigInt(v)));
      return 'I64 needs a BigInt64Array or Int32Array';
    default: return `dtype ${JSON.stringify(dtype)} cannot be written (use F32, F16, BF16, I32, I64 or U8)`;
  }
}

/**
 * Writes tensors to a safetensors file atomically. Tensors are laid out sorted by name, float data is
 * converted to the requested dtype, and the JSON header is space-padded to a multiple of 8 bytes.
 */
export async function writeSafetensors(
  file: string, tensors: readonly TensorToWrite[], metadata?: Record<string, string>,
): Promise<void> {
  checkArgument('writeSafetensors', 'file', file, required(string()));
  checkArgument('writeSafetensors', 'tensors', tensors, required(arrayOf(TENSOR_TO_WRITE, 'an array of { name, dtype, shape, data }')));
  requireLittleEndian();
  const fail = (msg: string, tensor?: string): SafetensorsError =>
    new SafetensorsError(`Cannot write ${file}${tensor === undefined ? '' : `, tensor "${tensor}"`}: ${msg}`);
  const entries: Array<[string, unknown]> = [];
  if (metadata !== undefined) {
    if (!isRecord(metadata) || !Object.values(metadata).every((v) => typeof v === 'string')) {
      throw fail('metadata must be an object of string values');
    }
    entries.push(['__metadata__', metadata]);
  }
  // Code-unit order, matching how the header keys are compared when the file is read back.
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (let i = 0; i < sorted.length; i++) {
    const t = sorted[i];
    if (typeof t.name !== 'string' || t.name === '' || t.name === '__metadata__') {
      throw fail(`invalid tensor name ${JSON.stringify(t.name)}`);
    }
    if (i > 0 && sorted[i - 1].name === t.name) throw fail('duplicate tensor name', t.name);
    if (!isValidShape(t.shape)) throw fail(`shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`, t.name);
    const count = product(t.shape);
    if (t.data.length !== count) {
      throw fail(`data has ${t.data.length} elements but shape [${t.shape.join(', ')}] needs ${count}`, t.name);
    }
    const bytes = encodeTensor(t);
    if (typeof bytes === 'string') throw fail(bytes, t.name);
    entries.push([t.name, { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] }]);
    chunks.push(bytes);
    offset += bytes.length;
  }
  // fromEntries defines own properties, so a tensor named "__proto__" is serialised like any other.
  const json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(entries)));
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  await writeFileAtomic(file, [head, ...chunks]);
}
