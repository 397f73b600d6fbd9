/**
 * Atomic file replacement: write a sibling temp file, fsync it, then rename over the target, so a
 * crash or a full disk never leaves a half-written model or checkpoint under the final name.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

// Distinguishes concurrent writes from the same process to the same target.
let tempCounter = 0;

/** Data accepted by `writeFileAtomic`; a chunk list avoids concatenating multi-GiB payloads. */
export type AtomicData = string | Uint8Array | readonly Uint8Array[];

/**
 * Writes `data` to `filePath` atomically. A list of chunks is written in order without being joined.
 * On failure the temp file is removed and the previous content of `filePath` (if any) is untouched.
 */
export async function writeFileAtomic(filePath: string, data: AtomicData): Promise<void> {
  const tmp = `${filePath}.tmp-${process.pid}-${tempCounter++}`;
  try {
    const handle = await fs.open(tmp, 'w');
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) {
        await handle.writeFile(data);
      } else {
        for (const chunk of data) await writeAll(handle, chunk);
      }
      // Without fsync the rename can reach disk before the data, leaving an empty file after a crash.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, filePath);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await syncDirectory(path.dirname(filePath));
}

/** Writes `value` as pretty-printed JSON (with a trailing newline) atomically. */
export async function writeJsonAtomic(filePath: string, value: unknown): Promise<void> {
  await writeFileAtomic(filePath, `${JSON.stringify(value, null, 2)}\n`);
}

/** `FileHandle.write` may write fewer bytes than asked, so loop until the chunk is done. */
async function writeAll(handle: fs.FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset, null);
    offset += bytesWritten;
  }
}

/** Persists the rename itself; best effort because some platforms (Windows) cannot open directories. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // Durability of the directory entry is a bonus; the file content is already synced.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
