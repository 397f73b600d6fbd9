import { describe, expect, it } from 'vitest';
import {
  bf16BitsToF32, decodeBF16, decodeF16, encodeBF16, encodeF16, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits,
} from '../../src/io/float16.js';

const isF16NaN = (h: number): boolean => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const isBf16NaN = (h: number): boolean => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
const allPatterns = (): Uint16Array => Uint16Array.from({ length: 65536 }, (_, i) => i);

/** Float32Array whose elements have the given raw bit patterns (e.g. signalling NaNs). */
function fromBits(bits: number[]): Float32Array {
  return new Float32Array(Uint32Array.from(bits).buffer);
}

describe('F16', () => {
  it('round-trips all 65536 bit patterns through the scalar functions', () => {
    // Collect failures instead of asserting 65536 times, so a regression prints the offending patterns.
    const bad: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const x = f16BitsToF32(h);
      const ok = isF16NaN(h) ? Number.isNaN(x) && isF16NaN(f32ToF16Bits(x)) : f32ToF16Bits(x) === h;
      if (!ok) bad.push(h);
    }
    expect(bad).toEqual([]);
  });

  it('array decoder agrees with the scalar decoder and round-trips every pattern', () => {
    const all = allPatterns();
    const decoded = decodeF16(all);
    const back = encodeF16(decoded);
    const bad: number[] = [];
    for (let h = 0; h < 65536; h++) {
      // Quiet NaNs keep their payload exactly; signalling ones come back quieted but still NaN.
      const ok = isF16NaN(h)
        ? Number.isNaN(decoded[h]) && (back[h] === h || back[h] === (h | 0x200))
        : Object.is(decoded[h], f16BitsToF32(h)) && back[h] === h;
      if (!ok) bad.push(h);
    }
    expect(bad).toEqual([]);
  });

  it('decodes known values', () => {
    expect(f16BitsToF32(0x3c00)).toBe(1);
    expect(f16BitsToF32(0xc000)).toBe(-2);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0x0400)).toBe(2 ** -14);
    expect(f16BitsToF32(0x0400)).toBeCloseTo(6.1e-5, 6);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x0001)).toBeCloseTo(5.96e-8, 10);
    expect(f16BitsToF32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16BitsToF32(0x7c00)).toBe(Infinity);
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(f16BitsToF32(0x3555)).toBeCloseTo(1 / 3, 3);
  });

  it('encodes known values', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(2 ** -14)).toBe(0x0400);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001);
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(isF16NaN(f32ToF16Bits(NaN))).toBe(true);
  });

  it('overflows to infinity past the rounding boundary', () => {
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // tie between 65504 (odd) and 2^16 → even → Inf
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(-1e6)).toBe(0xfc00);
    expect(f32ToF16Bits(3.4e38)).toBe(0x7c00);
  });

  it('rounds normal values to nearest, ties to even', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie, 0x3c00 is even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, 0x3c01 is odd
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // just above the tie
    expect(f32ToF16Bits(1 + 2 ** -11 - 2 ** -20)).toBe(0x3c00); // just below the tie
    expect(f32ToF16Bits(-(1 + 3 * 2 ** -11))).toBe(0xbc02);
    expect(f32ToF16Bits(4095 * 2 ** -11)).toBe(0x4000); // tie above 0x3fff (odd): carry bumps the exponent
  });

  it('rounds subnormals to nearest, ties to even', () => {
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // half the smallest subnormal: tie → 0
    expect(f32ToF16Bits(2 ** -25 * (1 + 2 ** -20))).toBe(0x0001);
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // 1.5 units: tie → 2
    expect(f32ToF16Bits(5 * 2 ** -25)).toBe(0x0002); // 2.5 units: tie → 2
    expect(f32ToF16Bits(1023.5 * 2 ** -24)).toBe(0x0400); // largest subnormal rounds up to smallest normal
    expect(f32ToF16Bits(2 ** -26)).toBe(0x0000);
    expect(f32ToF16Bits(1e-30)).toBe(0x0000);
    expect(f32ToF16Bits(-1e-30)).toBe(0x8000);
    expect(f32ToF16Bits(1.4e-45)).toBe(0x0000); // float32 subnormal input
  });

  it('keeps signalling NaNs NaN in the array encoder', () => {
    const out = encodeF16(fromBits([0x7f800001, 0xff800001, 0x7fc00000, 0x7f800000]));
    expect(isF16NaN(out[0])).toBe(true);
    expect(isF16NaN(out[1])).toBe(true);
    expect(out[1] & 0x8000).toBe(0x8000);
    expect(isF16NaN(out[2])).toBe(true);
    expect(out[3]).toBe(0x7c00);
  });

  it('array encoder matches the scalar encoder and honours subarray offsets', () => {
    let seed = 12345;
    const values = new Float32Array(4096);
    for (let i = 0; i < values.length; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      values[i] = ((seed / 2 ** 32) - 0.5) * 2 ** ((i % 40) - 20);
    }
    const sub = values.subarray(7, 1000);
    const out = encodeF16(sub);
    expect(out.length).toBe(sub.length);
    for (let i = 0; i < sub.length; i++) expect(out[i]).toBe(f32ToF16Bits(sub[i]));
  });
});

describe('BF16', () => {
  it('decodes and encodes known values', () => {
    expect(bf16BitsToF32(0x3f80)).toBe(1);
    expect(bf16BitsToF32(0xc000)).toBe(-2);
    expect(bf16BitsToF32(0x7f80)).toBe(Infinity);
    expect(bf16BitsToF32(0xff80)).toBe(-Infinity);
    expect(Number.isNaN(bf16BitsToF32(0x7fc0))).toBe(true);
    expect(bf16BitsToF32(0x4049)).toBe(3.140625);
    expect(bf16BitsToF32(0x0001)).toBe(2 ** -133);
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(-2)).toBe(0xc000);
    expect(f32ToBf16Bits(Math.PI)).toBe(0x4049);
    expect(f32ToBf16Bits(Infinity)).toBe(0x7f80);
    expect(f32ToBf16Bits(-0)).toBe(0x8000);
    expect(isBf16NaN(f32ToBf16Bits(NaN))).toBe(true);
  });

  it('rounds to nearest, ties to even, and overflows to infinity', () => {
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie, even stays
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie, odd rounds up
    expect(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(f32ToBf16Bits(3.4028234663852886e38)).toBe(0x7f80); // float32 max is past bf16's last tie
  });

  it('round-trips every non-NaN pattern and keeps NaNs NaN (including signalling)', () => {
    const all = allPatterns();
    const back = encodeBF16(decodeBF16(all));
    const bad: number[] = [];
    for (let h = 0; h < 65536; h++) {
      if (isBf16NaN(h) ? !isBf16NaN(back[h]) : back[h] !== h) bad.push(h);
    }
    expect(bad).toEqual([]);
    const snan = encodeBF16(fromBits([0x7f800001, 0xff800001]));
    expect(isBf16NaN(snan[0])).toBe(true);
    expect(isBf16NaN(snan[1])).toBe(true);
  });
});
