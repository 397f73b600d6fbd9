/** Inline preference rows for the data tests, and a temp-file writer (every fixture lives in the test). */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let dir: string | undefined;

/** Writes `content` to a fresh temp directory (shared per test file) and returns the path. */
export async function writeTemp(name: string, content: string | Uint8Array): Promise<string> {
  dir ??= await mkdtemp(join(tmpdir(), 'pargs-data-'));
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

/** One JSON value per line, blank lines allowed (pass '' for one). */
export const jsonl = (rows: readonly unknown[]): string => rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';

export const trlRow = { prompt: 'Q: what is two plus two?\nA:', chosen: ' Four.', rejected: ' Five.' };
export const trlRow2 = { prompt: 'Name a colour.', chosen: ' Blue', rejected: ' Purple, I think' };

export const hhRow = {
  chosen: '\n\nHuman: hi\n\nAssistant: hello!\n\nHuman: how are you?\n\nAssistant: Fine, thanks.',
  rejected: '\n\nHuman: hi\n\nAssistant: hello!\n\nHuman: how are you?\n\nAssistant: Go away.',
};

export const summarizeRow = {
  info: { id: 't3_1', post: 'I adopted a cat and it hides all day.', title: 'New cat hides', subreddit: 'cats' },
  summaries: [{ text: ' My new cat hides all day.', policy: 'a' }, { text: 'Cat.', policy: 'b' }],
  choice: 0,
};
