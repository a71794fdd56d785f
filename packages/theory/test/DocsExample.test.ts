import { expect, it } from "vitest"
import { readFileSync } from "node:fs"

// The "Check your own estimator" example of docs/theory.md, run as written.
import { chain, Rng } from "@duet/core"
import { scaleBy, subtractGroupMean } from "@duet/estimators"
import { Bandit, Expectation, Propositions, Report } from "../src/index.js"

it("docs/theory.md example runs and prints what the doc says", () => {
  const mine = chain(subtractGroupMean(), scaleBy(2)) // your estimator: any AdvantageTransform
  const bandit = Bandit.random(Rng.seeded(0), { arms: 3, prompts: 4 })
  const r = Expectation.exact(mine, bandit, { groupSize: 4 })
  expect([r.scale.toFixed(6), r.unbiasedUpToScale]).toEqual(["1.500000", true]) // E[g] = 1.5 grad J, exactly
  const claim = Propositions.scaleOnBandits(mine, { groupSize: 4, expectedScale: 1.5 })
  expect(claim.holds).toBe(true)
  const mc = Expectation.monteCarlo(mine, bandit, { groupSize: 4, samples: 20000, seed: 1 })
  expect(Math.abs(mc.scale - 1.5)).toBeLessThanOrEqual(mc.tolerance.scale)
  const table = Report.formatTable(Report.theoryRows([{ name: "mine", transform: mine }], { arms: 3, groupSize: [2, 4] }), Report.theoryColumns)
  expect(table).toContain("unbiased up to scale: E[g] = 1.5 grad J")

  const doc = readFileSync(new URL("../../../docs/theory.md", import.meta.url), "utf8")
  for (const line of [
    "const mine = chain(subtractGroupMean(), scaleBy(2))",
    "const r = Expectation.exact(mine, bandit, { groupSize: 4 })",
    'Propositions.scaleOnBandits(mine, { groupSize: 4, expectedScale: 1.5 })'
  ]) {
    expect(doc).toContain(line)
  }
})
