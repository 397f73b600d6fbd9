/**
 * Where a forward pass spends its time, by kernel kind, from `tf.profile` (kernel times are wall times
 * of each synchronous wasm kernel; the gap to the run's wall time is JS dispatch and host work).
 */
import { tf } from '../src/engine/tf.js';

export interface KernelShare {
  kind: string;
  ms: number;
  calls: number;
}

export interface ProfileResult {
  wallMs: number;
  kernelMs: number;
  kernels: number;
  byKind: KernelShare[];
}

/**
 * Groups kernels by name, splitting matMuls into the weight projections (2-D operands: q/k/v, output,
 * MLP, LM head) and attention's batched products (rank ≥ 3: q·Kᵀ and probs·V).
 */
function kindOf(name: string, inputShapes: number[][]): string {
  if (name === 'BatchMatMul' || name === '_FusedMatMul') {
    const rank = Math.max(...inputShapes.map((s) => s.length));
    return rank > 2 ? 'matMul (attention)' : 'matMul (projections, LM head)';
  }
  return name;
}

/** Profiles `runs` calls of `fn` (which disposes what it makes); every figure is the median over runs. */
export async function profileKinds(fn: () => void, runs = 1): Promise<ProfileResult> {
  const walls: number[] = [];
  const totals: number[] = [];
  const counts: number[] = [];
  const perKind = new Map<string, { ms: number[]; calls: number }>();
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    const info = await tf.profile(() => {
      fn();
    });
    walls.push(performance.now() - start);
    counts.push(info.kernels.length);
    const kinds = new Map<string, { ms: number; calls: number }>();
    for (const k of info.kernels) {
      const kind = kindOf(k.name, k.inputShapes as number[][]);
      const e = kinds.get(kind) ?? { ms: 0, calls: 0 };
      e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      e.calls += 1;
      kinds.set(kind, e);
    }
    totals.push([...kinds.values()].reduce((s, e) => s + e.ms, 0));
    for (const [kind, e] of kinds) {
      const acc = perKind.get(kind) ?? { ms: [], calls: e.calls };
      acc.ms.push(e.ms);
      perKind.set(kind, acc);
    }
  }
  const byKind = [...perKind.entries()]
    .map(([kind, e]) => ({ kind, ms: Number(median(e.ms).toFixed(2)), calls: e.calls }))
    .sort((a, b) => b.ms - a.ms);
  return { wallMs: Number(median(walls).toFixed(1)), kernelMs: Number(median(totals).toFixed(1)), kernels: median(counts), byKind };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** A Markdown table: the top kinds of each profiled run as % of that run's kernel time. */
export function profileTable(runs: Record<string, ProfileResult>, top = 8): string {
  const names = Object.keys(runs);
  const kinds = new Set<string>();
  for (const r of Object.values(runs)) r.byKind.slice(0, top).forEach((k) => kinds.add(k.kind));
  const lines = [`| kernel kind | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`];
  for (const kind of kinds) {
    const cells = names.map((n) => {
      const k = runs[n].byKind.find((e) => e.kind === kind);
      return k ? `${k.ms.toFixed(1)} ms (${((100 * k.ms) / runs[n].kernelMs).toFixed(0)} %)` : '–';
    });
    lines.push(`| ${kind} | ${cells.join(' | ')} |`);
  }
  lines.push(`| all kernels | ${names.map((n) => `${runs[n].kernelMs.toFixed(1)} ms, ${runs[n].kernels} calls`).join(' | ')} |`);
  lines.push(`| wall time of the profiled run | ${names.map((n) => `${runs[n].wallMs.toFixed(1)} ms`).join(' | ')} |`);
  return lines.join('\n');
}
