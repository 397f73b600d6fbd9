/**
 * Resident memory of this process from /proc/self/status (Linux): the current RSS and its peak
 * (VmHWM). Writing "5" to /proc/self/clear_refs resets the peak to the current RSS, so one child
 * process can measure the peak of each phase (load, first forward, …) separately.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const KiB = 1024;

function statusField(name: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error(`/proc/self/status has no ${name} (not Linux?)`);
  return Number(m[1]) * KiB;
}

/** Bytes resident now. */
export const rssBytes = (): number => statusField('VmRSS');

/** Peak resident bytes since the process started or since the last `resetPeakRss`. */
export const peakRssBytes = (): number => statusField('VmHWM');

/** Resets the peak to the current RSS; false where the kernel does not allow it (then peaks are since start). */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}
