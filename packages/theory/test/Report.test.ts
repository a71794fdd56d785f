import { describe, expect, it } from "vitest"
import { chain } from "@duet/core"
import { rloo, scaleBy, subtractGroupMean } from "@duet/estimators"
import { Report } from "../src/index.js"

describe("Report.theoryRows", () => {
  const rows = Report.theoryRows(Report.defaultEstimators(), { arms: 3, groupSize: [2, 4] })
  const at = (name: string, G: number) => rows.find((r) => r.estimator === name && r.groupSize === G)!

  it("one row per estimator and G, with the exact constants and GRPO's measured bias", () => {
    expect(rows).toHaveLength(14) // the registry's seven estimators x G = 2, 4
    // A bandit's responses all have one length: OPO's length-weighted baseline is the group mean (Dr.GRPO).
    expect(at("opo", 4).scale).toBeCloseTo(at("dr-grpo", 4).scale, 12)
    expect(Number.isFinite(at("grpo-passk", 4).scale)).toBe(true)
    expect(at("rloo", 4).verdict).toBe("unbiased: E[g] = grad J")
    expect(at("dr-grpo", 4).scale).toBeCloseTo(0.75, 12)
    expect(at("dr-grpo", 4).verdict).toContain("(= 1 - 1/G)")
    expect(at("2-grpo", 2).scale).toBeCloseTo(1 / (Math.SQRT2 + 2e-6), 12)
    expect(at("grpo", 4).verdict).toMatch(/^biased/)
    expect(at("grpo", 4).residual).toBeGreaterThan(1e-3)
    expect(at("grpo", 4).scaleMax - at("grpo", 4).scaleMin).toBeGreaterThan(0.01)
  })

  it("an estimator that refuses G gets an n/a row with the reason", () => {
    expect(Number.isNaN(at("2-grpo", 4).scale)).toBe(true)
    expect(at("2-grpo", 4).verdict).toMatch(/^n\/a: 2-grpo: group 0 has 4 rollouts, needs exactly 2/)
  })

  it("falls back to Monte Carlo, with tolerances, when (K, G) is too big to enumerate", () => {
    // K = 12, G = 12: 4 prompts x C(23, 12) = 5.4e6 multisets > 2e6.
    const [row] = Report.theoryRows([{ name: "rloo", transform: rloo() }], { arms: 12, groupSize: 12, samples: 5000 })
    expect(row!.method).toBe("monteCarlo")
    const m = /c = ([\d.]+) \+- ([\d.]+)/.exec(row!.verdict)!
    expect(Math.abs(Number(m[1]) - 1)).toBeLessThanOrEqual(Number(m[2]))
  })

  it("checks a user's own estimator the same way", () => {
    const [row] = Report.theoryRows([{ name: "mine", transform: chain(subtractGroupMean(), scaleBy(2)) }], { arms: 3, groupSize: 4 })
    expect(row!.scale).toBeCloseTo(1.5, 12)
    expect(row!.verdict).toContain("unbiased up to scale: E[g] = 1.5 grad J")
  })
})

describe("Report.formatTable", () => {
  it("aligns columns: numbers right, text left, NaN as n/a, booleans yes/no", () => {
    const text = Report.formatTable([
      { name: "a", x: 1.5, ok: true },
      { name: "long-name", x: Number.NaN, ok: false }
    ])
    expect(text.split("\n")).toEqual(["name         x  ok", "---------  ---  ---", "a          1.5  yes", "long-name  n/a  no"])
  })
})

describe("Report.propositionRows and text", () => {
  it("every claim that should hold holds; each expected 'no' carries its reason", () => {
    const rows = Report.propositionRows()
    for (const r of rows) {
      if (!r.holds) expect(r.note).toMatch(/^expected no/)
    }
    expect(rows.filter((r) => r.holds).length).toBeGreaterThanOrEqual(12)
  })

  it("the default report has the table and the propositions", () => {
    const text = Report.text()
    expect(text).toContain("reinforce-pp-baseline")
    expect(text).toContain("[yes] Proposition 4.1, case 2 (2 rollouts)")
    expect(text).toContain("[yes] Eq. (8), GRPO is contrastive")
    expect(text).toContain("[no ] Lemma 4.3")
  })
})
