import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OptionError, SafetensorsError } from '../../src/errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../../src/io/atomic.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/io/float16.js';
import {
  readRange, readSafetensorsHeader, readTensorF32, SafetensorsFile, writeSafetensors, type PositionalReader,
  type TensorToWrite,
} from '../../src/io/safetensors.js';
import { openSafetensorsDir } from '../../src/io/weight-source.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pargs-st-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Builds a safetensors file by hand: header JSON (or raw text) + data, with an optional forged length. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), forgedLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, forgedLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const bytes = (view: ArrayBufferView): Uint8Array => new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};

describe('writeSafetensors / SafetensorsFile round trip', () => {
  it('round-trips every writable dtype, scalars, empty tensors and metadata', async () => {
    const file = path.join(dir, 'all.safetensors');
    const f32 = Float32Array.from([1.5, -2.25, 3e-3, 65504, 1e-8, -0]);
    const tensors: TensorToWrite[] = [
      { name: 'f32', dtype: 'F32', shape: [2, 3], data: f32 },
      { name: 'f16', dtype: 'F16', shape: [6], data: f32 },
      { name: 'bf16', dtype: 'BF16', shape: [3, 2], data: f32 },
      { name: 'i32', dtype: 'I32', shape: [3], data: Int32Array.from([-7, 0, 2147483647]) },
      { name: 'i64', dtype: 'I64', shape: [2], data: BigInt64Array.from([-(2n ** 40n), 5n]) },
      { name: 'i64_from_i32', dtype: 'I64', shape: [2], data: Int32Array.from([-3, 4]) },
      { name: 'u8', dtype: 'U8', shape: [1, 3], data: Uint8Array.from([0, 128, 255]) },
      { name: 'scalar', dtype: 'F32', shape: [], data: Float32Array.from([42]) },
      { name: 'empty', dtype: 'F16', shape: [0], data: new Float32Array(0) },
      { name: 'empty2d', dtype: 'I32', shape: [2, 0], data: new Int32Array(0) },
    ];
    await writeSafetensors(file, tensors, { format: 'pt', note: 'ünïcode' });
    expect((await fs.readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);

    const raw = new Uint8Array(await fs.readFile(file));
    const headerLength = Number(new DataView(raw.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const header = await readSafetensorsHeader(file);
    expect(header.metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect(header.dataStart).toBe(8 + headerLength);
    const byOffset = [...header.tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
    expect(byOffset.filter((t) => t.end > t.begin).map((t) => t.name))
      .toEqual(['bf16', 'f16', 'f32', 'i32', 'i64', 'i64_from_i32', 'scalar', 'u8']);

    const reader = await SafetensorsFile.open(file);
    try {
      expect(reader.names().sort()).toEqual(tensors.map((t) => t.name).sort());
      expect(await reader.read('f32')).toEqual({ dtype: 'F32', shape: [2, 3], data: f32 });
      const f16 = await reader.read('f16');
      expect(f16.dtype).toBe('F16');
      expect(f16.data).toEqual(Float32Array.from(f32, (x) => f16BitsToF32(f32ToF16Bits(x))));
      expect(Array.from(f16.data as Float32Array).slice(3)).toEqual([65504, 0, -0]);
      const bf16 = await reader.readF32('bf16');
      expect(bf16[0]).toBe(1.5);
      expect(bf16[2]).toBeCloseTo(3e-3, 4);
      expect((await reader.read('i32')).data).toEqual(Int32Array.from([-7, 0, 2147483647]));
      expect((await reader.read('i64')).data).toEqual(BigInt64Array.from([-(2n ** 40n), 5n]));
      expect(await reader.readF32('i64_from_i32')).toEqual(Float32Array.from([-3, 4]));
      expect((await reader.read('u8')).data).toEqual(Uint8Array.from([0, 128, 255]));
      expect(await reader.read('scalar')).toEqual({ dtype: 'F32', shape: [], data: Float32Array.from([42]) });
      expect(await reader.read('empty')).toEqual({ dtype: 'F16', shape: [0], data: new Float32Array(0) });
      expect((await reader.read('empty2d')).shape).toEqual([2, 0]);
      const many = await reader.readMany(['u8', 'f32']);
      expect([...many.keys()].sort()).toEqual(['f32', 'u8']);
    } finally {
      await reader.close();
    }
    expect(await readTensorF32(file, 'u8')).toEqual(Float32Array.from([0, 128, 255]));
  });

  it('reads unaligned tensors and the read-only dtypes (F64, I16, I8, BOOL)', async () => {
    const f32 = Float32Array.from([1, -2.5, 3.25]);
    const f64 = Float64Array.from([Math.PI, -1e300]);
    const f16 = Uint16Array.from([f32ToF16Bits(0.5), 0x7c00]);
    const data = concat(
      Uint8Array.from([1, 2, 3]), bytes(f32), bytes(f64), bytes(Int16Array.from([-300, 7])),
      bytes(Int8Array.from([-128, 127])), Uint8Array.from([1, 0]), bytes(f16),
    );
    let at = 0;
    const span = (n: number): number[] => [at, (at += n)];
    const header = {
      u8: { dtype: 'U8', shape: [3], data_offsets: span(3) },
      f32: { dtype: 'F32', shape: [3], data_offsets: span(12) },
      f64: { dtype: 'F64', shape: [2], data_offsets: span(16) },
      i16: { dtype: 'I16', shape: [2], data_offsets: span(4) },
      i8: { dtype: 'I8', shape: [2], data_offsets: span(2) },
      bool: { dtype: 'BOOL', shape: [2], data_offsets: span(2) },
      f16: { dtype: 'F16', shape: [2], data_offsets: span(4) },
    };
    const file = path.join(dir, 'odd.safetensors');
    // A 7-byte JSON header is padded so the data section itself starts misaligned too.
    await fs.writeFile(file, rawFile(`${JSON.stringify(header)} `, data));
    const reader = await SafetensorsFile.open(file, { rangeBytes: 5 });
    try {
      expect(reader.info('f32').begin % 4).not.toBe(0);
      expect((await reader.read('u8')).data).toEqual(Uint8Array.from([1, 2, 3]));
      expect((await reader.read('f32')).data).toEqual(f32);
      expect(await reader.read('f64')).toEqual({ dtype: 'F64', shape: [2], data: Float32Array.from(f64) });
      expect(await reader.read('i16')).toEqual({ dtype: 'I16', shape: [2], data: Int32Array.from([-300, 7]) });
      expect((await reader.read('i8')).data).toEqual(Int32Array.from([-128, 127]));
      expect(await reader.read('bool')).toEqual({ dtype: 'BOOL', shape: [2], data: Uint8Array.from([1, 0]) });
      expect(await reader.readF32('f16')).toEqual(Float32Array.from([0.5, Infinity]));
    } finally {
      await reader.close();
    }
  });

  it('names the tensor and file for missing tensors and reads after close', async () => {
    const file = path.join(dir, 'one.safetensors');
    await writeSafetensors(file, [{ name: 'w', dtype: 'F32', shape: [1], data: Float32Array.from([1]) }]);
    const reader = await SafetensorsFile.open(file);
    await expect(reader.read('nope')).rejects.toThrow(SafetensorsError);
    await expect(reader.read('nope')).rejects.toThrow(/"nope".*one\.safetensors/);
    await reader.close();
    await reader.close();
    await expect(reader.read('w')).rejects.toThrow(/closed/);
    await expect(readTensorF32(path.join(dir, 'absent.safetensors'), 'w')).rejects.toThrow(/absent\.safetensors.*ENOENT/);
    await expect(SafetensorsFile.open(file, { rangeBytes: 0 })).rejects.toThrow(OptionError);
  });

  it('rejects invalid tensors on write and leaves the target untouched', async () => {
    const file = path.join(dir, 'bad.safetensors');
    await fs.writeFile(file, 'previous');
    const ok = { name: 'ok', dtype: 'F32', shape: [1], data: new Float32Array(1) } as const;
    const cases: Array<[TensorToWrite[], RegExp]> = [
      [[{ name: 'x', dtype: 'F32', shape: [2, 2], data: new Float32Array(3) }], /"x".*3 elements.*4/],
      [[{ name: 'x', dtype: 'F16', shape: [1], data: new Int32Array(1) }], /"x".*Float32Array/],
      [[{ name: 'x', dtype: 'I32', shape: [1], data: new Float32Array(1) }], /"x".*Int32Array/],
      [[{ name: 'x', dtype: 'I64', shape: [1], data: new Uint8Array(1) }], /"x".*BigInt64Array/],
      [[{ name: 'x', dtype: 'F64' as 'F32', shape: [1], data: new Float32Array(1) }], /"x".*F64/],
      [[{ name: 'x', dtype: 'F32', shape: [-1], data: new Float32Array(0) }], /"x".*shape/],
      [[ok, ok], /"ok".*duplicate/],
      [[{ ...ok, name: '' }], /invalid tensor name/],
      [[{ ...ok, name: '__metadata__' }], /invalid tensor name/],
    ];
    for (const [tensors, message] of cases) {
      const attempt = writeSafetensors(file, tensors);
      await expect(attempt).rejects.toThrow(SafetensorsError);
      await expect(writeSafetensors(file, tensors)).rejects.toThrow(message);
    }
    await expect(writeSafetensors(file, [ok], { n: 1 as unknown as string })).rejects.toThrow(/metadata/);
    expect(await fs.readFile(file, 'utf8')).toBe('previous');
  });
});

describe('range reads', () => {
  function fakeHandle(content: Uint8Array, maxPerRead = Infinity) {
    const calls: Array<{ offset: number; length: number; position: number }> = [];
    const handle = {
      read: async (buffer: Uint8Array, offset: number, length: number, position: number) => {
        calls.push({ offset, length, position });
        const n = Math.max(0, Math.min(length, maxPerRead, content.length - position));
        buffer.set(content.subarray(position, position + n), offset);
        return { bytesRead: n, buffer };
      },
    } as unknown as PositionalReader;
    return { handle, calls };
  }
  const content = Uint8Array.from({ length: 40 }, (_, i) => i);

  it('splits a read into positional reads of at most rangeBytes', async () => {
    const { handle, calls } = fakeHandle(content);
    const out = await readRange(handle, 'f', 10, 10, 4);
    expect(Array.from(out)).toEqual(Array.from(content.subarray(10, 20)));
    expect(calls).toEqual([
      { offset: 0, length: 4, position: 10 }, { offset: 4, length: 4, position: 14 }, { offset: 8, length: 2, position: 18 },
    ]);
  });

  it('continues after short reads and fails on end of file', async () => {
    const { handle, calls } = fakeHandle(content, 3);
    expect(Array.from(await readRange(handle, 'f', 0, 8, 100))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(calls.map((c) => c.position)).toEqual([0, 3, 6]);
    await expect(readRange(handle, 'short.safetensors', 35, 10)).rejects.toThrow(/short\.safetensors.*end of file/);
  });

  it('reads a real file correctly with a tiny range size', async () => {
    const file = path.join(dir, 'r.safetensors');
    const data = Float32Array.from({ length: 33 }, (_, i) => i * 0.5 - 3);
    await writeSafetensors(file, [{ name: 'x', dtype: 'F32', shape: [3, 11], data }]);
    expect(await readTensorF32(file, 'x', { rangeBytes: 7 })).toEqual(data);
  });
});

describe('malformed files', () => {
  const good = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  const eight = new Uint8Array(8);
  const cases: Array<{ why: string; file: Uint8Array; tensor?: string; message: RegExp }> = [
    { why: 'shorter than 8 bytes', file: new Uint8Array(5), message: /shorter than the 8-byte/ },
    { why: 'header length 0', file: rawFile('', eight, 0n), message: /header length is 0/ },
    { why: 'absurd header length', file: rawFile('{}', eight, 2n ** 40n), message: /over 100000000/ },
    { why: 'header beyond file size', file: rawFile('{}', eight, 100n), message: /past the end/ },
    { why: 'header not JSON', file: rawFile('{"a": ', eight), message: /not valid UTF-8 JSON/ },
    { why: 'header not UTF-8', file: rawFile('{}', eight, 3n).fill(0xff, 8, 11), message: /not valid UTF-8 JSON/ },
    { why: 'header is an array', file: rawFile([1, 2]), message: /not a JSON object/ },
    { why: 'entry not an object', file: rawFile({ w: 3 }), tensor: 'w', message: /not an object/ },
    { why: 'missing dtype', file: rawFile({ w: { shape: [2], data_offsets: [0, 8] } }, eight), tensor: 'w', message: /missing "dtype"/ },
    { why: 'missing shape', file: rawFile({ w: { dtype: 'F32', data_offsets: [0, 8] } }, eight), tensor: 'w', message: /missing "shape"/ },
    { why: 'missing offsets', file: rawFile({ w: { dtype: 'F32', shape: [2] } }, eight), tensor: 'w', message: /missing "data_offsets"/ },
    { why: 'unsupported dtype', file: rawFile({ w: { ...good, dtype: 'F8_E4M3', shape: [8] } }, eight), tensor: 'w', message: /F8_E4M3/ },
    { why: 'negative shape', file: rawFile({ w: { ...good, shape: [-2] } }, eight), tensor: 'w', message: /shape/ },
    { why: 'fractional shape', file: rawFile({ w: { ...good, shape: [1.5] } }, eight), tensor: 'w', message: /shape/ },
    { why: 'reversed offsets', file: rawFile({ w: { ...good, data_offsets: [8, 0] } }, eight), tensor: 'w', message: /reversed/ },
    { why: 'offsets past the data', file: rawFile({ w: { ...good, data_offsets: [4, 12] } }, eight), tensor: 'w', message: /past the 8-byte data/ },
    { why: 'bad offsets', file: rawFile({ w: { ...good, data_offsets: [0] } }, eight), tensor: 'w', message: /data_offsets/ },
    { why: 'byte length mismatch', file: rawFile({ w: { ...good, shape: [3] } }, eight), tensor: 'w', message: /holds 8 bytes.*needs 12/ },
    { why: 'overlapping offsets', file: rawFile({ a: { ...good, data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight), tensor: 'b', message: /overlap those of "a"/ },
    { why: 'two tensors on the same bytes', file: rawFile({ a: good, b: good }, eight), tensor: 'b', message: /overlap those of "a"/ },
    { why: 'metadata not strings', file: rawFile({ __metadata__: { a: 1 }, w: good }, eight), message: /__metadata__/ },
  ];

  it.each(cases)('rejects a file with $why', async ({ file, tensor, message }) => {
    const name = `broken-${cases.findIndex((c) => c.file === file)}.safetensors`;
    const target = path.join(dir, name);
    await fs.writeFile(target, file);
    const err = await readSafetensorsHeader(target).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SafetensorsError);
    const text = (err as Error).message;
    expect(text).toContain(name);
    if (tensor !== undefined) expect(text).toContain(`"${tensor}"`);
    expect(text).toMatch(message);
    await expect(SafetensorsFile.open(target)).rejects.toThrow(SafetensorsError);
  });
});

describe('openSafetensorsDir', () => {
  const t = (name: string, values: number[]): TensorToWrite =>
    ({ name, dtype: 'F32', shape: [values.length], data: Float32Array.from(values) });

  it('prefers model.safetensors', async () => {
    await writeSafetensors(path.join(dir, 'model.safetensors'), [t('a', [1, 2])]);
    await writeSafetensors(path.join(dir, 'other.safetensors'), [t('b', [3])]);
    const source = await openSafetensorsDir(dir);
    expect(source.names()).toEqual(['a']);
    expect(source.info('a')).toEqual({ dtype: 'F32', shape: [2] });
    expect(await source.readF32('a')).toEqual(Float32Array.from([1, 2]));
    expect(() => source.info('b')).toThrow(/"b"/);
    await expect(source.readF32('b')).rejects.toThrow(SafetensorsError);
    await source.close();
  });

  it('falls back to the only *.safetensors file', async () => {
    await writeSafetensors(path.join(dir, 'weights.safetensors'), [t('b', [3])]);
    const source = await openSafetensorsDir(dir);
    expect(source.has('b')).toBe(true);
    await source.close();
  });

  it('round-trips a sharded checkpoint', async () => {
    await writeSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), [t('a', [1]), t('b', [2, 3])]);
    await writeSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), [t('c', [4, 5, 6]), t('unlisted', [0])]);
    await writeJsonAtomic(path.join(dir, 'model.safetensors.index.json'), {
      metadata: { total_size: 24 },
      weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' },
    });
    const source = await openSafetensorsDir(dir, { rangeBytes: 4 });
    expect(source.names().sort()).toEqual(['a', 'b', 'c']);
    expect(source.has('unlisted')).toBe(false);
    expect(source.info('c').shape).toEqual([3]);
    expect(await source.readF32('b')).toEqual(Float32Array.from([2, 3]));
    expect(await source.readF32('c')).toEqual(Float32Array.from([4, 5, 6]));
    await source.close();
  });

  const index = (weightMap: unknown) => JSON.stringify({ metadata: { total_size: 4 }, weight_map: weightMap });
  const shardCases: Array<{ why: string; index: string; message: RegExp }> = [
    { why: 'index not JSON', index: '{', message: /model\.safetensors\.index\.json/ },
    { why: 'weight_map not an object', index: index(['a']), message: /weight_map.*must be an object/ },
    { why: 'empty weight_map', index: index({}), message: /empty/ },
    { why: 'missing shard', index: index({ a: 'shard.safetensors', z: 'gone.safetensors' }), message: /"gone\.safetensors".*does not exist/ },
    { why: 'tensor absent from shard', index: index({ a: 'shard.safetensors', q: 'shard.safetensors' }), message: /"q".*shard\.safetensors/ },
    { why: 'shard outside the folder', index: index({ a: '../shard.safetensors' }), message: /"a".*invalid shard/ },
  ];

  it.each(shardCases)('rejects a sharded folder with $why', async ({ index: text, message }) => {
    await writeSafetensors(path.join(dir, 'shard.safetensors'), [t('a', [1])]);
    await fs.writeFile(path.join(dir, 'model.safetensors.index.json'), text);
    await expect(openSafetensorsDir(dir)).rejects.toThrow(SafetensorsError);
    await expect(openSafetensorsDir(dir)).rejects.toThrow(message);
  });

  it('explains what a folder without usable weights needs', async () => {
    await fs.writeFile(path.join(dir, 'pytorch_model.bin'), 'pickle');
    await fs.writeFile(path.join(dir, 'config.json'), '{}');
    const err = await openSafetensorsDir(dir).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SafetensorsError);
    const text = (err as Error).message;
    for (const part of [dir, 'model.safetensors', 'config.json', 'found: pytorch_model.bin', 'safe_serialization=True', 'save_file']) {
      expect(text).toContain(part);
    }
    // A runnable snippet for this folder; the clone is needed because save_file refuses shared (tied) tensors.
    expect(text).toContain(`torch.load("${path.join(dir, 'pytorch_model.bin')}")`);
    expect(text).toContain('v.clone().contiguous()');
    await writeSafetensors(path.join(dir, 'x.safetensors'), [t('a', [1])]);
    await writeSafetensors(path.join(dir, 'y.safetensors'), [t('a', [1])]);
    await expect(openSafetensorsDir(dir)).rejects.toThrow(/2 \.safetensors files/);
    await expect(openSafetensorsDir(path.join(dir, 'nowhere'))).rejects.toThrow(/nowhere.*ENOENT/);
  });
});

describe('atomic writes', () => {
  it('writes strings, bytes and chunk lists and leaves no temp files', async () => {
    const file = path.join(dir, 'out.bin');
    await writeFileAtomic(file, 'text');
    expect(await fs.readFile(file, 'utf8')).toBe('text');
    await writeFileAtomic(file, Uint8Array.from([1, 2]));
    expect(Array.from(await fs.readFile(file))).toEqual([1, 2]);
    await writeFileAtomic(file, [Uint8Array.from([1]), new Uint8Array(0), Uint8Array.from([2, 3])]);
    expect(Array.from(await fs.readFile(file))).toEqual([1, 2, 3]);
    await writeJsonAtomic(path.join(dir, 'v.json'), { a: [1] });
    expect(JSON.parse(await fs.readFile(path.join(dir, 'v.json'), 'utf8'))).toEqual({ a: [1] });
    expect((await fs.readdir(dir)).sort()).toEqual(['out.bin', 'v.json']);
  });

  it('removes the temp file when the rename fails', async () => {
    const target = path.join(dir, 'occupied');
    await fs.mkdir(target);
    await fs.writeFile(path.join(target, 'keep'), 'x');
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow();
    expect(await fs.readdir(dir)).toEqual(['occupied']);
  });
});
