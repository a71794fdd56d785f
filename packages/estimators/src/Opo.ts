/**
 * OPO, on-policy RL with the optimal reward baseline (Hao et al. 2025, "On-Policy RL with Optimal
 * Reward Baseline", arXiv:2505.23585; verl `compute_opo_outcome_advantage`): the baseline of a
 * group is its rewards' mean weighted by response length, the variance-minimising baseline when
 * the score-function norm grows with the length.
 *
 *   A_i = r_i - (sum_j l_j r_j) / (sum_j l_j)      (a group of one: A_i = r_i, as verl)
 *
 * Needs `StepInfo.lengths`. Groups whose responses are all empty fall back to the plain mean.
 * Worked numbers: rewards [1, 0], lengths [1, 3] -> baseline 1/4 -> [0.75, -0.25].
 */
import { InvalidArgumentError, Scores, stateless } from "@duet/core"
import { checkOutput, checkScores } from "./internal/Checks.js"
import { recipe } from "./internal/Recipe.js"
import * as EstimatorEntry from "./EstimatorEntry.js"

const name = "opo"

/** `r - length-weighted group mean`. */
export const opo = () =>
  recipe(
    name,
    { min: 1 },
    stateless(name, 1, (scores, info) => {
      checkScores(scores, name)
      const lengths = info.lengths
      const n = scores.values.length
      if (lengths === undefined) throw new InvalidArgumentError("lengths", `${name}: needs info.lengths, the response length in tokens of each row`)
      if (lengths.length !== n) throw new InvalidArgumentError("lengths", `${name}: has ${lengths.length} entries but scores has ${n}; they must match`)
      const index = Scores.groupIndex(scores)
      const groups = index.sizes.length
      const weighted = new Float64Array(groups)
      const total = new Float64Array(groups)
      const plain = new Float64Array(groups)
      for (let i = 0; i < n; i++) {
        const g = index.ids[i]!
        const l = lengths[i]!
        if (!Number.isInteger(l) || l < 0) throw new InvalidArgumentError(`lengths[${i}]`, `${name}: is ${l}; a length must be a non-negative integer`)
        weighted[g] += l * scores.values[i]!
        total[g] += l
        plain[g] += scores.values[i]!
      }
      const out = new Float64Array(n)
      for (let i = 0; i < n; i++) {
        const g = index.ids[i]!
        const size = index.sizes[g]!
        const baseline = size === 1 ? 0 : total[g]! > 0 ? weighted[g]! / total[g]! : plain[g]! / size
        out[i] = scores.values[i]! - baseline
      }
      return Scores.withValues(scores, checkOutput(out, name))
    })
  )

export const entry = EstimatorEntry.define({
  name,
  summary: "OPO: r - length-weighted group mean, the optimal baseline (arXiv:2505.23585; verl opo)",
  options: {},
  groupSize: { min: 1 },
  needsLengths: true,
  make: () => opo()
})
