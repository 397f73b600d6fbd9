/**
 * Type test, checked by `npm run typecheck` (tsconfig.json includes test/): the calls the docs show
 * must type-check as written, and the misuses marked @ts-expect-error must not (tsc fails on an unused
 * @ts-expect-error, so each line below is a real assertion). Nothing here runs.
 */
import { loadRewardModel, trainPartialRM, type CausalLM, type RewardDiagnostics, type RewardModelTraining } from 'pargs';

export async function plainRowsTrain(lm: CausalLM): Promise<RewardDiagnostics | undefined> {
  // Plain rows, no `source`: what README's quick start and docs/guide.md pass.
  const rows = [{ prompt: 'Q: ', chosen: 'good', rejected: 'bad' }];
  const rm = await trainPartialRM({ backbone: lm, pairs: rows, evalPairs: rows });
  // rm.training is typed: no cast needed to read the history.
  const training: RewardModelTraining = rm.training;
  const steps: number = training.steps;
  const lastLoss: number | undefined = training.history.steps.at(-1)?.loss;
  void steps;
  void lastLoss;
  // @ts-expect-error a row without `rejected` is not a preference pair
  await trainPartialRM({ backbone: lm, pairs: [{ prompt: 'Q: ', chosen: 'good' }] });
  // @ts-expect-error the history has no such field
  void training.history.losses;
  return training.history.evals.at(-1)?.diagnostics;
}

export async function loadWithFolder(lm: CausalLM): Promise<void> {
  // The backbone as a loaded model or as its folder, in one call.
  (await loadRewardModel('rm', lm)).dispose();
  (await loadRewardModel('rm', 'models/sotu-lm', { backend: 'cpu' })).dispose();
  // @ts-expect-error the backbone is a CausalLM or a folder path
  await loadRewardModel('rm', 42);
}
