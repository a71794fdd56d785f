/**
 * The theory checks on YOUR estimator: the exact expectation of its policy-gradient estimate on small
 * softmax bandits (every outcome enumerated, no sampling; `@duet/theory` `Expectation.exact`),
 * against the true gradient. `scale` is c in E[g] = c grad J; `residual` is what no c explains
 * (0: unbiased up to the scale, as RLOO and 2-GRPO are).
 *
 *   npx jiti examples/theory-check.ts
 *
 * The same report as `duet theory` gives the built-ins: `duet theory --recipe examples/custom-estimator.ts`.
 */
import { Rng } from "@duet/core"
import { rloo } from "@duet/estimators"
import { Bandit, Expectation } from "@duet/theory"
import { meanSign } from "./mean-sign.js"

/** Four prompts of three arms with 0/1 rewards (a fixed seed: the same bandit every run). */
export const bandit = Bandit.random(Rng.seeded(0), { arms: 3, prompts: 4 })

export const rows = (groupSizes: ReadonlyArray<number> = [2, 4]) =>
  [meanSign, rloo()].flatMap((estimator) =>
    groupSizes.map((groupSize) => {
      const r = Expectation.exact(estimator, bandit, { groupSize })
      return { estimator: r.estimator, groupSize, scale: r.scale, residual: r.residual, unbiasedUpToScale: r.unbiasedUpToScale }
    })
  )

if (process.argv[1]?.endsWith("theory-check.ts")) {
  for (const r of rows()) {
    console.log(
      `${r.estimator.padEnd(10)} G=${r.groupSize}  scale ${r.scale.toFixed(6)}  residual ${r.residual.toExponential(2)}  ${r.unbiasedUpToScale ? "unbiased up to scale" : "biased"}`
    )
  }
}
