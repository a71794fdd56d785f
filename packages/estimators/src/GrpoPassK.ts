/**
 * A pass@k-style advantage (verl `compute_grpo_passk_outcome_advantage`): only the best response of
 * each group is credited, with its margin over the runner-up, so the policy is pushed to make its
 * best of k better rather than its average:
 *
 *   A_best = (r_max - r_second) / (std_g + eps),   A_other = 0
 *
 * `r_second` is the second-largest reward counting ties (a tied maximum gives 0 to every row). The
 * division by the group std is verl's default (`norm_adv_by_std_in_grpo=True`, unbiased std, eps
 * 1e-6); `scaleByStd: false` gives the bare margin. The best row is the first maximum in row order.
 * Worked numbers: [1, 0, 0, 0] -> 1.999996, 0, 0, 0 (bare margin: 1, 0, 0, 0).
 */
import { stateless, Scores } from "@duet/core"
import { checkEps, checkOutput } from "./internal/Checks.js"
import { checkStdKind } from "./GroupStd.js"
import type { GroupStdOptions } from "./GroupStd.js"
import { groupStds } from "./internal/GroupMoments.js"
import { recipe } from "./internal/Recipe.js"
import * as EstimatorEntry from "./EstimatorEntry.js"
import { stdOptions } from "./Grpo.js"

export interface GrpoPassKOptions extends GroupStdOptions {
  /** Divide the margin by `std_g + eps` (verl's default). Default true. */
  readonly scaleByStd?: boolean | undefined
}

const name = "grpo-passk"

/** The best row of each group gets its margin over the runner-up (optionally std-scaled); others 0. */
export const grpoPassK = (opts: GrpoPassKOptions = {}) => {
  const eps = checkEps(opts.eps ?? 1e-6, name)
  const std = checkStdKind(opts.std ?? "unbiased", name)
  const scaleByStd = opts.scaleByStd ?? true
  return recipe(
    name,
    { min: 2 },
    stateless(name, 2, (scores) => {
      const values = scores.values
      const index = Scores.groupIndex(scores)
      const best = new Int32Array(index.count).fill(-1)
      const second = new Float64Array(index.count).fill(-Infinity)
      for (let i = 0; i < values.length; i++) {
        const g = index.ids[i]!
        const b = best[g]!
        if (b < 0) best[g] = i
        else if (values[i]! > values[b]!) {
          second[g] = values[b]!
          best[g] = i
        } else if (values[i]! > second[g]!) second[g] = values[i]!
      }
      const out = new Float64Array(values.length)
      const denominators = scaleByStd ? groupStds(values, index, std) : undefined
      for (let g = 0; g < index.count; g++) {
        const margin = values[best[g]!]! - second[g]!
        const d = denominators === undefined ? 1 : denominators[g]! + eps
        out[best[g]!] = margin === 0 || d === 0 ? margin : margin / d
      }
      return Scores.withValues(scores, checkOutput(out, name))
    })
  )
}

export const entry = EstimatorEntry.define({
  name: "grpo-passk",
  summary: "pass@k: only each group's best rollout is credited, with its margin over the runner-up (verl compute_grpo_passk_outcome_advantage)",
  options: { ...stdOptions, scaleByStd: EstimatorEntry.boolean("divide the margin by group std + eps (default true, verl)") },
  groupSize: { min: 2 },
  needsLengths: false,
  make: (o) => grpoPassK(o)
})
