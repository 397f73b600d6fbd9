/** endingJudge: only the response's last words count (a judge that is not a sum over the response). */
import { describe, expect, it } from 'vitest';
import { afinnJudge, builtinJudge, endingJudge } from '../../src/eval/judges.js';
import { OptionError } from '../../src/errors.js';

describe('endingJudge', () => {
  it('scores the AFINN valence per word of the last k words and ignores everything before them', async () => {
    const judge = endingJudge({ words: 3 });
    const afinn = afinnJudge();
    // "good" is +3 in AFINN-165: one hit in the last three words → 3 / 3 words.
    expect(await judge('', 'terrible awful horrible and then good')).toBeCloseTo(1, 6);
    expect(await judge('', 'good and then a plain ending here')).toBe(0);
    // The whole-response judge sees both halves; the ending judge only the last three words.
    expect(await afinn('', 'terrible awful horrible and then good')).toBeLessThan(0);
    expect(await judge('', 'the   end  is   good\n')).toBeCloseTo(await afinn('', 'end is good'), 6);
    expect(await builtinJudge('afinn-ending')('', 'bad bad bad bad bad bad bad good')).toBeCloseTo(await afinn('', 'bad bad bad bad bad good'), 6);
  });

  it('refuses a word count that is not a positive integer', () => {
    expect(() => endingJudge({ words: 0 })).toThrow(OptionError);
    expect(() => endingJudge({ words: 2.5 })).toThrow(/words/);
  });
});
