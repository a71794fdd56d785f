/**
 * The leave-one-out baseline (RLOO): `A_i = r_i - mean_{j != i, g(j) = g(i)} r_j`, which equals
 * `n/(n-1) * (r_i - mean_g)` for a group of n. The baseline of row i does not depend on r_i, so the
 * policy-gradient estimate is exactly unbiased. Sources: Kool, van Hoof & Welling 2019, "Buy 4
 * REINFORCE samples, get a baseline for free!"; Ahmadian et al. 2024, "Back to Basics"
 * (arXiv:2402.14740); verl `compute_rloo_outcome_advantage`.
 */
import { stateless, Scores } from "@duet/core"
import type { Transform as AdvantageTransform } from "@duet/core"
import { checkOutput, checkScores } from "./internal/Checks.js"
import { centerWithinGroups } from "./internal/GroupMoments.js"

const name = "subtract-leave-one-out-mean"

/**
 * Replaces each row by its reward minus the mean of the other rows of its group; scales by nothing.
 * Needs groups of at least 2 (`GroupSizeError` otherwise). All-equal groups give exactly 0.
 */
export const subtractLeaveOneOutMean = (): AdvantageTransform<void> =>
  stateless(name, 2, (scores) => {
    checkScores(scores, name)
    const index = Scores.groupIndex(scores)
    Scores.requireGroupSizes(index, name, { min: 2 })
    const out = centerWithinGroups(scores.values, index)
    for (let i = 0; i < out.length; i++) {
      const n = index.sizes[index.ids[i]!]!
      out[i] = (n * out[i]!) / (n - 1)
    }
    return Scores.withValues(scores, checkOutput(out, name))
  })
