// The README's "swap the estimator" code, run as written (kept in sync by hand; numbers asserted).
import { describe, expect, it } from "vitest"
import { chain, AdvantageTransform, Scores, Rng } from "@duet/core"
import { subtractGroupMean, scaleByGroupStd, scaleBy, rloo } from "@duet/estimators"
import { Bandit, Expectation } from "@duet/theory"
import { readFileSync } from "node:fs"

describe("README example", () => {
  it("runs and prints what the README says", () => {
    const grpo = chain(subtractGroupMean(), scaleByGroupStd({ eps: 1e-6, std: "unbiased" }))
    const halfGrpo = chain(grpo, scaleBy(0.5))
    const adv = AdvantageTransform.apply(halfGrpo, Scores.make([1, 0, 0, 0], [0, 0, 0, 0]))
    const values = Array.from(adv.values)
    ;[0.7499985, -0.2499995, -0.2499995, -0.2499995].forEach((v, i) => expect(values[i]).toBeCloseTo(v, 6))

    const bandit = Bandit.random(Rng.seeded(0), { arms: 3, prompts: 4 })
    const r1 = Expectation.exact(rloo(), bandit, { groupSize: 4 })
    expect(r1.scale).toBeCloseTo(1, 9)
    expect(r1.unbiasedUpToScale).toBe(true)
    const r2 = Expectation.exact(halfGrpo, bandit, { groupSize: 4 })
    expect(r2.unbiasedUpToScale).toBe(false)
  })
  it("the README shows the same code", () => {
    const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8")
    expect(readme).toContain("const halfGrpo = chain(grpo, scaleBy(0.5))")
    expect(readme).toContain("[0.7499985, -0.2499995, -0.2499995, -0.2499995]")
    expect(readme).toContain("Expectation.exact(t, bandit, { groupSize: 4 })")
  })
})
