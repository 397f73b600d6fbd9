/** The option spec of a `rewardModel` key, beside the reward-model classes it checks. */
import { instance, type Spec } from '../options.js';
import { PartialRewardModel } from './reward-model.js';

export function rewardModel(): Spec {
  return instance(() => PartialRewardModel, 'a reward model (PartialRewardModel or HFRewardModel, from trainPartialRM or loadRewardModel)');
}
