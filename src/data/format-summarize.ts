/**
 * OpenAI summarize-from-feedback comparisons: `{info: {post, title, subreddit}, summaries: [{text}, {text}],
 * choice}`. The prompt follows the TL;DR layout those models were trained on; `choice` indexes the
 * preferred summary.
 */
import { checkArgument, required, string } from '../options.js';
import { type ParsedRow, type Row, isPlainObject, optionalString, reject, requireField, requireString, typeName } from './fields.js';

/** "SUBREDDIT: r/{subreddit}\nTITLE: {title}\nPOST: {post}\nTL;DR:" — lines whose value is absent are left out. */
export function tldrPrompt(post: string, title?: string, subreddit?: string): string {
  checkArgument('tldrPrompt', 'post', post, required(string()));
  checkArgument('tldrPrompt', 'title', title, string());
  checkArgument('tldrPrompt', 'subreddit', subreddit, string());
  const lines: string[] = [];
  if (subreddit !== undefined) lines.push(`SUBREDDIT: r/${subreddit}`);
  if (title !== undefined) lines.push(`TITLE: ${title}`);
  lines.push(`POST: ${post}`, 'TL;DR:');
  return lines.join('\n');
}

/** The prompt ends in "TL;DR:", so a summary needs a separating space unless it already starts with whitespace. */
function asResponse(text: string): string {
  return /^\s/.test(text) ? text : ` ${text}`;
}

export function parseSummarizeRow(row: Row): ParsedRow {
  const info = requireField(row, 'info');
  if (!isPlainObject(info)) reject('wrong-type', `"info" must be an object, got ${typeName(info)}`);
  const post = requireString(info, 'post', 'info.post');
  const title = optionalString(info, 'title', 'info.title');
  const subreddit = optionalString(info, 'subreddit', 'info.subreddit');

  const summaries = requireField(row, 'summaries');
  if (!Array.isArray(summaries)) reject('wrong-type', `"summaries" must be an array, got ${typeName(summaries)}`);
  if (summaries.length !== 2) reject('invalid-value', `"summaries" must hold exactly 2 summaries, got ${summaries.length}`);
  const texts = summaries.map((s: unknown, i) => {
    if (!isPlainObject(s)) reject('wrong-type', `"summaries[${i}]" must be an object, got ${typeName(s)}`);
    return requireString(s, 'text', `summaries[${i}].text`);
  });

  const choice = requireField(row, 'choice');
  if (typeof choice !== 'number') reject('wrong-type', `"choice" must be a number, got ${typeName(choice)}`);
  if (choice !== 0 && choice !== 1) reject('invalid-value', `"choice" must be 0 or 1 (the index of the preferred summary), got ${choice}`);

  return { prompt: tldrPrompt(post, title, subreddit), chosen: asResponse(texts[choice]), rejected: asResponse(texts[1 - choice]) };
}
