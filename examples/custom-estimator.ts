/**
 * Train with your own estimator: the default recipe (SFT warm start, then RL on arithmetic) with
 * groups of 4 and the `mean-sign` estimator of `mean-sign.ts` instead of 2-GRPO.
 *
 *   duet train --recipe examples/custom-estimator.ts
 *   duet train --recipe examples/custom-estimator.ts --set rl.estimator.kind=grpo   # the built-in, to compare
 *
 * The run's recipe.json records `rl.estimator: { kind: "custom", name: "mean-sign" }`.
 */
import { defineTrainer } from "@duet/pipeline"
import { meanSign } from "./mean-sign.js"

export default defineTrainer({
  recipe: { rl: { groupSize: { kind: "fixed", size: 4 }, promptsPerStep: 128 } },
  estimator: meanSign
})
