/**
 * GRPO's group-normalised advantage (DeepSeekMath, Shao et al. 2024, arXiv:2402.03300):
 *
 *   A_i = (r_i - mean_g) / (std_g + eps)
 *
 * Defaults are verl's (`compute_grpo_outcome_advantage`): unbiased std (`torch.std`, n - 1), eps
 * 1e-6 outside the root. TRL uses eps 1e-4, OpenRLHF 1e-9; all three use the unbiased std.
 * Worked numbers: [1, 0] -> +-0.70710578; [1, 0, 0, 0] -> 1.499997, -0.499999 x3.
 * Unlike verl, a singleton group is refused with `GroupSizeError` (as TRL and OpenRLHF do).
 */
import { chain } from "@duet/core"
import { subtractGroupMean } from "./GroupMean.js"
import { scaleByGroupStd } from "./GroupStd.js"
import type { GroupStdOptions } from "./GroupStd.js"
import { recipe } from "./internal/Recipe.js"
import * as EstimatorEntry from "./EstimatorEntry.js"

/** Options shared by `grpo` and `twoGrpo`: eps (default 1e-6) and std kind (default "unbiased"). */
export type GrpoOptions = GroupStdOptions

/** `chain(subtractGroupMean(), scaleByGroupStd({ eps, std }))`, groups of at least 2. */
export const grpo = (opts: GrpoOptions = {}) =>
  recipe(
    "grpo",
    { min: 2 },
    chain(subtractGroupMean(), scaleByGroupStd({ eps: opts.eps ?? 1e-6, std: opts.std ?? "unbiased" }))
  )

/** Options of `grpo` and `2-grpo` as recipes and the CLI give them. */
export const stdOptions = {
  eps: EstimatorEntry.number(0, "added to the group std, outside the root (default 1e-6, verl; TRL 1e-4)"),
  std: EstimatorEntry.literal(["unbiased", "population"], "group std: unbiased (n - 1, verl/TRL/OpenRLHF, default) or population (n, the paper's Prop. 4.1)")
}

export const entry = EstimatorEntry.define({
  name: "grpo",
  summary: "GRPO: (r - group mean) / (group std + eps) (DeepSeekMath, arXiv:2402.03300)",
  options: stdOptions,
  groupSize: { min: 2 },
  needsLengths: false,
  make: (o) => grpo(o)
})
