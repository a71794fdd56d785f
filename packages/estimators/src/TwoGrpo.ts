/**
 * 2-GRPO ("It Takes Two: Your GRPO is Secretly DPO", Eq. 13 and Prop. 4.1): GRPO with exactly two
 * rollouts per prompt. For a pair with gap d = r1 - r2 != 0 the advantage is
 * `+-(|d|/2) / (|d|/sqrt 2 + eps) ~ +-1/sqrt 2` with the unbiased std (verl: +-0.70710578), whatever
 * the gap; `+-1/(1 + 2 eps/|d|)` with the population std the paper analyses (`+-1/(1 + 2 eps)` for
 * 0/1 rewards); an equal pair gives exactly 0. The higher reward gets the + sign.
 */
import { chain } from "@duet/core"
import { subtractGroupMean } from "./GroupMean.js"
import { scaleByGroupStd } from "./GroupStd.js"
import type { GrpoOptions } from "./Grpo.js"
import { recipe } from "./internal/Recipe.js"
import * as EstimatorEntry from "./EstimatorEntry.js"
import { stdOptions } from "./Grpo.js"

/** GRPO (same options and defaults) that refuses every group whose size is not 2 (`GroupSizeError`). */
export const twoGrpo = (opts: GrpoOptions = {}) =>
  recipe(
    "2-grpo",
    { exact: 2 },
    chain(subtractGroupMean(), scaleByGroupStd({ eps: opts.eps ?? 1e-6, std: opts.std ?? "unbiased" }))
  )

export const entry = EstimatorEntry.define({
  name: "2-grpo",
  summary: "GRPO with exactly two rollouts per prompt: +-1/sqrt 2 per discordant pair (It Takes Two, Eq. 13)",
  options: stdOptions,
  groupSize: { exact: 2 },
  needsLengths: false,
  make: (o) => twoGrpo(o)
})
