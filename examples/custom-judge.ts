/**
 * Evaluate with your own judge: any (prompt, response) => number | Promise<number> works. Here a judge
 * that counts topic words; it ranks 4 samples per prompt (Best-of-4 under the judge itself) and the
 * result is compared with plain sampling by mean score, win rate and diversity.
 *   npx tsx examples/custom-judge.ts [MODEL_DIR]
 */
import { pathToFileURL } from 'node:url';
import { afinnJudge, bundledModelPath, diversity, loadCausalLM, meanWithStderr, sample, winRate, type Judge } from 'pargs';

/** 1 point per topic word the response mentions. */
export const topicJudge = (topics: readonly string[]): Judge => (_prompt, response) => topics.filter((t) => response.toLowerCase().includes(t)).length;

export async function compareWithJudge(modelDir: string, judge: Judge, maxNewTokens = 24): Promise<{ plain: number; bestOf4: number; winRate: number; diversity: number }> {
  const lm = await loadCausalLM(modelDir);
  const prompts = ['Tonight', 'The future of our country', 'We must', 'In the last year'];
  const strategy = { kind: 'sample', temperature: 1, topK: 20 } as const;
  // Four samples per prompt in one batch (each batch row has its own random stream).
  const samples = await sample({ lm, prompts: prompts.flatMap((p) => [p, p, p, p]), maxNewTokens, strategy, seed: 3 });
  lm.dispose();
  const plain: number[] = [];
  const best: { text: string; score: number }[] = [];
  for (const [i, prompt] of prompts.entries()) {
    const scored = await Promise.all(samples.slice(4 * i, 4 * i + 4).map(async (s) => ({ text: s.text, score: await judge(prompt, s.text) })));
    plain.push(scored[0].score); // the first sample is an ordinary plain sample
    best.push(scored.reduce((a, b) => (b.score > a.score ? b : a)));
  }
  const bestScores = best.map((b) => b.score);
  return { plain: meanWithStderr(plain).mean, bestOf4: meanWithStderr(bestScores).mean, winRate: winRate(bestScores, plain).win, diversity: diversity(best.map((b) => b.text)) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const modelDir = process.argv[2] ?? bundledModelPath();
  console.log('topic judge:', await compareWithJudge(modelDir, topicJudge(['america', 'people', 'work', 'freedom'])));
  console.log('AFINN judge:', await compareWithJudge(modelDir, afinnJudge()));
}
