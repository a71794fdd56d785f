/**
 * RLOO, REINFORCE with a leave-one-out baseline (Kool, van Hoof & Welling 2019; Ahmadian et al. 2024,
 * "Back to Basics", arXiv:2402.14740; verl `compute_rloo_outcome_advantage`):
 *
 *   A_i = r_i - mean_{j != i} r_j = n/(n-1) (r_i - mean_g)
 *
 * An exactly unbiased policy-gradient estimator; for n = 2 it is `+-(r1 - r2)`.
 * Worked numbers: [1, 0] -> +-1; [1, 0, 0, 0] -> 1, -1/3 x3; [1, 1, 0, 0] -> +-2/3.
 */
import { recipe } from "./internal/Recipe.js"
import * as EstimatorEntry from "./EstimatorEntry.js"
import { subtractLeaveOneOutMean } from "./LeaveOneOut.js"

/** `subtractLeaveOneOutMean()`, groups of at least 2. */
export const rloo = () => recipe("rloo", { min: 2 }, subtractLeaveOneOutMean())

export const entry = EstimatorEntry.define({
  name: "rloo",
  summary: "RLOO: r - mean of the other rollouts of the group, exactly unbiased (arXiv:2402.14740)",
  options: {},
  groupSize: { min: 2 },
  needsLengths: false,
  make: () => rloo()
})
