/**
 * REINFORCE++-baseline (Hu 2025, "REINFORCE++", arXiv:2501.03262; verl
 * `compute_reinforce_plus_plus_baseline_outcome_advantage`): subtract the group mean, then whiten
 * over all response tokens of the batch:
 *
 *   s_i = r_i - mean_g;   A_i = (s_i - mu) / sqrt(var + eps)
 *
 * with mu the token-weighted mean of s and var its unbiased token variance (see `TokenWhitening`).
 * Needs `info.lengths`. Unlike the pure group estimators, a zero-variance group does NOT get 0: after
 * whitening it gets `-mu / sqrt(var + eps)`. Singleton groups are refused (verl gives them mean 0).
 */
import { chain } from "@duet/core"
import { subtractGroupMean } from "./GroupMean.js"
import * as EstimatorEntry from "./EstimatorEntry.js"
import { recipe } from "./internal/Recipe.js"
import { whitenByTokens } from "./TokenWhitening.js"
import type { TokenWhiteningOptions } from "./TokenWhitening.js"

/** Options: eps inside the square root of the token variance, default 1e-8 (verl). */
export type ReinforcePlusPlusBaselineOptions = TokenWhiteningOptions

/** `chain(subtractGroupMean(), whitenByTokens({ eps }))`, groups of at least 2. */
export const reinforcePlusPlusBaseline = (opts: ReinforcePlusPlusBaselineOptions = {}) =>
  recipe("reinforce-pp-baseline", { min: 2 }, chain(subtractGroupMean(), whitenByTokens({ eps: opts.eps ?? 1e-8 })))

export const entry = EstimatorEntry.define({
  name: "reinforce-pp-baseline",
  summary: "REINFORCE++-baseline: r - group mean, whitened over the batch's response tokens (arXiv:2501.03262)",
  options: { eps: EstimatorEntry.number(0, "inside the root of the token variance (default 1e-8, verl)") },
  groupSize: { min: 2 },
  needsLengths: true,
  make: (o) => reinforcePlusPlusBaseline(o)
})
