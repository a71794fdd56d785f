/**
 * The group-mean baseline: `A_i = r_i - mean_{g(i)}`, the first half of GRPO and all of Dr.GRPO
 * (verl `compute_grpo_outcome_advantage`; DeepSeekMath, Shao et al. 2024, arXiv:2402.03300).
 */
import { stateless, Scores } from "@duet/core"
import type { Transform as AdvantageTransform } from "@duet/core"
import { checkOutput, checkScores } from "./internal/Checks.js"
import { centerWithinGroups } from "./internal/GroupMoments.js"

const name = "subtract-group-mean"

/**
 * Subtracts each group's mean from its rows. All-equal groups give exactly 0; a singleton group
 * gives 0 (recipes built on it refuse singletons before they get here).
 */
export const subtractGroupMean = (): AdvantageTransform<void> =>
  stateless(name, 1, (scores) => {
    checkScores(scores, name)
    const index = Scores.groupIndex(scores)
    return Scores.withValues(scores, checkOutput(centerWithinGroups(scores.values, index), name))
  })
