/**
 * Dr.GRPO ("GRPO done right"; Liu et al. 2025, "Understanding R1-Zero-Like Training: A Critical
 * Perspective", arXiv:2503.20783): GRPO without the std division, which biases the gradient
 * towards too-easy and too-hard prompts.
 *
 *   A_i = r_i - mean_g
 *
 * verl `norm_adv_by_std_in_grpo=False`; TRL `scale_rewards="none"`.
 * Worked numbers: [1, 0] -> +-0.5; [1, 0, 0, 0] -> 0.75, -0.25 x3.
 */
import { subtractGroupMean } from "./GroupMean.js"
import { recipe } from "./internal/Recipe.js"
import * as EstimatorEntry from "./EstimatorEntry.js"

/** `subtractGroupMean()`, groups of at least 2. */
export const drGrpo = () => recipe("dr-grpo", { min: 2 }, subtractGroupMean())

export const entry = EstimatorEntry.define({
  name: "dr-grpo",
  summary: "Dr.GRPO: r - group mean, no std division (arXiv:2503.20783)",
  options: {},
  groupSize: { min: 2 },
  needsLengths: false,
  make: () => drGrpo()
})
