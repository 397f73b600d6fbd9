/**
 * IEEE half precision (F16) and bfloat16 (BF16) conversions on raw bit patterns.
 *
 * Everything works on bits rather than arithmetic so that conversions are exact, NaN payloads survive
 * the array paths, and rounding is the IEEE default (round to nearest, ties to even).
 */

import { checkArgument, instance, required } from '../options.js';

const u16 = () => required(instance(() => Uint16Array, 'a Uint16Array of bit patterns'));
const f32 = () => required(instance(() => Float32Array, 'a Float32Array'));

// Scratch views used to move between a JS number and its float32 bit pattern.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

function f32ToBits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0];
}

function bitsToF32(bits: number): number {
  scratchU32[0] = bits;
  return scratchF32[0];
}

/** Converts a 16-bit F16 pattern to the float32 bit pattern of the same value (exact). */
function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal: shift the leading 1 into the implicit-bit position; each shift lowers the exponent.
  let e = 113;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

/** Rounds `value >>> shift` to nearest, ties to even, looking at the bits shifted out. */
function roundShift(value: number, shift: number): number {
  const q = value >>> shift;
  const rem = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
}

/** Converts a float32 bit pattern to F16 bits with round-to-nearest-even. */
function f32BitsToF16Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) {
    // Keep the top payload bits; force the quiet bit so a NaN never collapses into Inf.
    return mant === 0 ? sign | 0x7c00 : sign | 0x7c00 | 0x200 | (mant >>> 13);
  }
  const e = exp - 112; // rebias 127 → 15
  if (e >= 31) return sign | 0x7c00;
  if (e >= 1) {
    // A carry out of the mantissa correctly bumps the exponent, and past 30 lands exactly on Inf.
    return sign | roundShift((e << 23) | mant, 13);
  }
  // Below 2^-25 even the largest float32 mantissa rounds to zero.
  if (e < -10) return sign;
  // Subnormal result in units of 2^-24; the implicit bit is made explicit before shifting.
  return sign | roundShift(mant | 0x800000, 14 - e);
}

/** Decodes one F16 bit pattern to a number. */
export function f16BitsToF32(bits: number): number {
  return bitsToF32(f16BitsToF32Bits(bits & 0xffff));
}

/** Encodes a number as F16 bits: round to nearest even, overflow → ±Inf, NaN stays NaN, subnormals kept. */
export function f32ToF16Bits(x: number): number {
  return f32BitsToF16Bits(f32ToBits(x));
}

/** Decodes one BF16 bit pattern to a number (BF16 is the upper half of a float32). */
export function bf16BitsToF32(bits: number): number {
  return bitsToF32(((bits & 0xffff) << 16) >>> 0);
}

function f32BitsToBf16Bits(u: number): number {
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) {
    // Truncating could drop every payload bit and yield Inf, so set the quiet bit.
    return ((u >>> 16) | 0x40) & 0xffff;
  }
  // Adding 0x7fff plus the lowest kept bit rounds to nearest even; overflow carries into Inf.
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Encodes a number as BF16 bits: round to nearest even, NaN stays NaN. */
export function f32ToBf16Bits(x: number): number {
  return f32BitsToBf16Bits(f32ToBits(x));
}

// F16 → float32-bits table, built on first use (256 KiB) so array decoding is one lookup per element.
let f16Table: Uint32Array | undefined;

function getF16Table(): Uint32Array {
  if (f16Table === undefined) {
    const table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = f16BitsToF32Bits(h);
    f16Table = table;
  }
  return f16Table;
}

/** Decodes an array of F16 bit patterns. Writes bits directly, so NaN payloads are preserved. */
export function decodeF16(src: Uint16Array): Float32Array {
  checkArgument('decodeF16', 'src', src, u16());
  const table = getF16Table();
  const out = new Float32Array(src.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) outBits[i] = table[src[i]];
  return out;
}

/** Bit view of a Float32Array that respects its byte offset and length. */
function bitsOf(src: Float32Array): Uint32Array {
  return new Uint32Array(src.buffer, src.byteOffset, src.length);
}

/** Encodes float32 values as F16 bit patterns (round to nearest even). */
export function encodeF16(src: Float32Array): Uint16Array {
  checkArgument('encodeF16', 'src', src, f32());
  const bits = bitsOf(src);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < bits.length; i++) out[i] = f32BitsToF16Bits(bits[i]);
  return out;
}

/** Decodes an array of BF16 bit patterns. */
export function decodeBF16(src: Uint16Array): Float32Array {
  checkArgument('decodeBF16', 'src', src, u16());
  const out = new Float32Array(src.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) outBits[i] = src[i] << 16;
  return out;
}

/** Encodes float32 values as BF16 bit patterns (round to nearest even). */
export function encodeBF16(src: Float32Array): Uint16Array {
  checkArgument('encodeBF16', 'src', src, f32());
  const bits = bitsOf(src);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < bits.length; i++) out[i] = f32BitsToBf16Bits(bits[i]);
  return out;
}

/**
 * Widens `n` 16-bit patterns stored in the upper half of `out`'s buffer (bytes [2n, 4n) of a
 * Float32Array of length n at offset 0) to float32 in place, front to back: element i is written to
 * bytes [4i, 4i + 4), which never reach the 16-bit values still unread (from byte 2n + 2i + 2 on). A
 * checkpoint's bf16/f16 tensor then needs one float32 buffer instead of the raw bytes plus a copy.
 */
export function widenInPlace(out: Float32Array, format: 'BF16' | 'F16'): Float32Array {
  checkArgument('widenInPlace', 'out', out, f32());
  const n = out.length;
  const src = new Uint16Array(out.buffer, out.byteOffset + 2 * n, n);
  const bits = new Uint32Array(out.buffer, out.byteOffset, n);
  if (format === 'BF16') {
    for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
  } else {
    const table = getF16Table();
    for (let i = 0; i < n; i++) bits[i] = table[src[i]];
  }
  return out;
}
