import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { chain, InvalidArgumentError, Rng } from "@duet/core"
import { drGrpo, grpo, reinforcePlusPlusBaseline, rloo, scaleBy, subtractGroupMean, twoGrpo } from "@duet/estimators"
import { Propositions as P } from "../src/index.js"

const tol = P.identityTolerance
const probability = fc.double({ min: 0.01, max: 0.99, noNaN: true })

describe("Proposition 4.1, case 2 (2 rollouts)", () => {
  it("holds for 2-GRPO with both std conventions, with the exact constants", () => {
    const r = P.prop41TwoRollouts()
    expect(r.holds).toBe(true)
    expect(r.cases[0]!.kappa).toBeCloseTo(1 / (1 + 2e-6), 14) // 0.999998
    expect(r.cases[1]!.kappa).toBeCloseTo(1 / (Math.SQRT2 + 2e-6), 14) // 0.70710578 (verl)
    expect(r.detail).toContain("0.70710578")
  })

  it("property: E[A | X = x] = (x - p)/(1 + 2 eps) (population std), (x - p)/(sqrt 2 + 2 eps) (unbiased std)", () => {
    fc.assert(
      fc.property(probability, fc.constantFrom(0, 1) as fc.Arbitrary<0 | 1>, fc.double({ min: 0, max: 0.5, noNaN: true }), (p, x, eps) => {
        const pop = P.conditionalAdvantage(twoGrpo({ eps, std: "population" }), { groupSize: 2, p, x })
        const unb = P.conditionalAdvantage(twoGrpo({ eps, std: "unbiased" }), { groupSize: 2, p, x })
        expect(Math.abs(pop - (x - p) / (1 + 2 * eps))).toBeLessThan(tol)
        expect(Math.abs(unb - (x - p) / (Math.SQRT2 + 2 * eps))).toBeLessThan(tol)
      }),
      { seed: 42, numRuns: 200 }
    )
  })

  it("checks any transform: RLOO kappa = 1, Dr.GRPO 1/2; a wrong expected constant fails", () => {
    expect(P.prop41TwoRollouts(rloo(), { expectedScale: 1 }).holds).toBe(true)
    expect(P.prop41TwoRollouts(drGrpo(), { expectedScale: 0.5 }).holds).toBe(true)
    const wrong = P.prop41TwoRollouts(drGrpo(), { expectedScale: 1 })
    expect(wrong.holds).toBe(false)
    expect(wrong.detail).toContain("expected 1")
  })
})

describe("Proposition 4.1, case 1 (large groups)", () => {
  it("GRPO (population std, eps 0): the bias to (x - p)/sqrt(p(1-p)) shrinks at every doubling, ~4/G", () => {
    const r = P.prop41LargeGroup()
    expect(r.holds).toBe(true)
    const last = r.rows[r.rows.length - 1]!
    expect(last.groupSize).toBe(256)
    expect(last.bias).toBeLessThan(0.02) // 0.0165
    expect(r.rows[0]!.bias).toBeCloseTo(2.1, 12) // G = 2, p = 0.1, x = 1: 0.9 vs 3
    // O(1/G): bias*G settles (4.2 at G = 128 and 256).
    const [a, b] = r.rows.slice(-2)
    expect(Math.abs(a!.scaledBias / b!.scaledBias - 1)).toBeLessThan(0.05)
  })

  it("is exact: G = 2, x = 1 gives (1 - p) (pop std, eps 0), the limit at p = 0.1 is 3", () => {
    expect(P.conditionalAdvantage(grpo({ std: "population", eps: 0 }), { groupSize: 2, p: 0.1, x: 1 })).toBeCloseTo(0.9, 15)
  })

  it("checks another estimator against its own limit: Dr.GRPO E[A|X=x] = (1 - 1/G)(x - p) -> x - p", () => {
    const r = P.prop41LargeGroup(drGrpo(), { limit: (x, p) => x - p })
    expect(r.holds).toBe(true)
    for (const row of r.rows) expect(row.bias).toBeCloseTo(0.9 / row.groupSize, 12) // max over p, x of |x - p|/G
  })

  it("fails for a transform whose limit is not the stated one", () => {
    expect(P.prop41LargeGroup(drGrpo()).holds).toBe(false) // Dr.GRPO does not standardise
  })
})

describe("Eq. (8): GRPO is contrastive", () => {
  const binaryGroup = fc.array(fc.constantFrom(0, 1), { minLength: 2, maxLength: 12 })

  it("property: for any 0/1 group and any terms, objective = sqrt(p^(1-p^)) (mean+ - mean-)", () => {
    fc.assert(
      fc.property(binaryGroup, fc.integer({ min: 0, max: 1e6 }), (rewards, seed) => {
        const r = P.eq8ContrastiveForm(rewards, { seed })
        expect(r.holds).toBe(true)
        expect(r.positiveWeight).toBeCloseTo(r.sqrtVariance, 12)
      }),
      { seed: 42, numRuns: 200 }
    )
  })

  it("worked: [1, 0, 0, 0] with terms (1, 2, 3, 4): objective sqrt(3/16) (1 - 3) = -0.8660254", () => {
    const r = P.eq8ContrastiveForm([1, 0, 0, 0], { terms: [1, 2, 3, 4] })
    // pop std of [1,0,0,0] is sqrt(3)/4: A+ = (3/4)/(sqrt 3/4) = sqrt 3, A- = -1/sqrt 3.
    // (1/4)(sqrt 3 * 1 - (2 + 3 + 4)/sqrt 3) = (1/4)(sqrt 3 - 3 sqrt 3) = -sqrt 3/2.
    expect(r.objective).toBeCloseTo(-Math.sqrt(3) / 2, 14)
    expect(r.holds).toBe(true)
  })

  it("other estimators are contrastive with their own weight: RLOO G p^(1-p^)/(G-1), Dr.GRPO p^(1-p^)", () => {
    fc.assert(
      fc.property(binaryGroup, (rewards) => {
        const G = rewards.length
        expect(P.eq8ContrastiveForm(rewards, { transform: rloo(), expectedWeight: (p) => (G * p * (1 - p)) / (G - 1) }).holds).toBe(true)
        expect(P.eq8ContrastiveForm(rewards, { transform: drGrpo(), expectedWeight: (p) => p * (1 - p) }).holds).toBe(true)
      }),
      { seed: 42, numRuns: 100 }
    )
  })

  it("a raw-reward 'advantage' (A = r) is not contrastive: w- = 0 != w+", () => {
    const r = P.eq8ContrastiveForm([1, 0, 1], { transform: scaleBy(1) })
    expect(r.holds).toBe(false)
    expect(r.negativeWeight).toBe(0)
  })

  it("rejects rewards that are not 0/1", () => {
    expect(() => P.eq8ContrastiveForm([1, 0.5])).toThrow(InvalidArgumentError)
    expect(() => P.eq8ContrastiveForm([1, 0.5])).toThrow(/rewards\[1\]/)
  })
})

describe("Lemma 4.3: variance over B groups", () => {
  it("holds exactly for per-group estimators, built-in or a user's chain", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(grpo(), drGrpo(), rloo(), twoGrpo(), chain(subtractGroupMean(), scaleBy(-3))),
        fc.integer({ min: 0, max: 1e6 }),
        (t, seed) => {
          const r = P.lemma43VarianceOverB(t, { groupSize: 2, seed })
          expect(r.holds).toBe(true)
          for (const row of r.rows) expect(Math.abs(row.ratio - 1)).toBeLessThan(1e-9)
        }
      ),
      { seed: 42, numRuns: 10 }
    )
  })

  it("fails for REINFORCE++-baseline, whose whitening couples the groups of a batch", () => {
    const r = P.lemma43VarianceOverB(reinforcePlusPlusBaseline(), { groupSize: 2 })
    expect(r.holds).toBe(false)
    expect(r.rows[1]!.ratio).toBeGreaterThan(1.5) // 2.43 on the default bandit
  })

  it("Monte Carlo version agrees within its concentration tolerance", () => {
    const r = P.lemma43VarianceOverB(rloo(), { groupSize: 2, method: "monteCarlo", samples: 20000 })
    expect(r.holds).toBe(true)
    expect(r.rows[1]!.tolerance).toBeLessThan(1)
  })
})

describe("Proposition 4.4: pass@ over rounds", () => {
  it("worked: p0 = 0.5, m = 2, p1 = 0.75: P_{m x 2} = 1 - 1/4 * 1/16 = 0.984375 >= P_{2m} = 0.9375", () => {
    const r = P.prop44PassAtRounds(0.5, [0.75], 2)
    expect(r.passMx2).toBeCloseTo(0.984375, 15)
    expect(r.pass2m).toBeCloseTo(0.9375, 15)
    expect(r.holds && r.premise).toBe(true)
  })

  it("property: holds whenever the pass rates do not fall", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 15 }),
        (p0, raw) => {
          const ps = raw.map((u) => p0 + u * (1 - p0)) // each in [p0, 1]
          const r = P.prop44PassAtRounds(p0, ps, ps.length + 1)
          expect(r.premise).toBe(true)
          expect(r.holds).toBe(true)
        }
      ),
      { seed: 42, numRuns: 300 }
    )
  })

  it("can fail when the premise fails (pass rates fall)", () => {
    const r = P.prop44PassAtRounds(0.3, [0.2, 0.1], 3)
    expect(r.premise).toBe(false)
    expect(r.holds).toBe(false)
  })

  it("the formula matches simulated rounds within a Hoeffding tolerance", () => {
    const rng = Rng.seeded(5)
    const rates = [0.1, 0.15, 0.3]
    const n = 40000
    let hits = 0
    for (let t = 0; t < n; t++) {
      if (rates.some((p) => rng.bernoulli(p) || rng.bernoulli(p))) hits++
    }
    // Indicators in [0, 1]; delta = 1e-6: t = sqrt(ln(2e6)/(2n)) = 0.0134.
    const t = Math.sqrt(Math.log(2 / 1e-6) / (2 * n))
    expect(Math.abs(hits / n - P.prop44PassAtRounds(0.1, [0.15, 0.3], 3).passMx2)).toBeLessThanOrEqual(t)
  })

  it("rejects a mismatched m or out-of-range rates", () => {
    expect(() => P.prop44PassAtRounds(0.1, [0.2], 3)).toThrow(/ps/)
    expect(() => P.prop44PassAtRounds(1.5, [], 1)).toThrow(/p0/)
  })
})

describe("scaleOnBandits: unbiased up to the exact constant, or biased with numbers", () => {
  it("RLOO 1, Dr.GRPO 1 - 1/G, 2-GRPO 1/(1 + 2 eps) and 1/(sqrt 2 + 2 eps)", () => {
    for (const G of [2, 3, 5]) {
      expect(P.scaleOnBandits(rloo(), { groupSize: G, expectedScale: 1 }).holds).toBe(true)
      expect(P.scaleOnBandits(drGrpo(), { groupSize: G, expectedScale: P.knownScales.drGrpo(G) }).holds).toBe(true)
    }
    expect(P.scaleOnBandits(twoGrpo({ std: "population" }), { groupSize: 2, expectedScale: P.knownScales.twoGrpoPopulation(1e-6) }).holds).toBe(true)
    expect(P.scaleOnBandits(twoGrpo(), { groupSize: 2, expectedScale: P.knownScales.twoGrpoUnbiased(1e-6) }).holds).toBe(true)
    // the brief's "sqrt 2 times" would be wrong: the unbiased-std constant is 1/sqrt 2 times the paper's
    expect(P.scaleOnBandits(twoGrpo(), { groupSize: 2, expectedScale: Math.SQRT2 / (1 + 2e-6) }).holds).toBe(false)
  })

  it("std-normalised GRPO, G = 4 and 8: biased, and the detail prints the numbers", () => {
    for (const G of [4, 8]) {
      const r = P.scaleOnBandits(grpo(), { groupSize: G })
      expect(r.holds).toBe(false)
      expect(r.maxScale - r.minScale).toBeGreaterThan(0.01)
      expect(r.maxResidual).toBeGreaterThan(1e-3)
      expect(r.detail).toMatch(/c ranges [\s\S]*\nworst bandit [\s\S]*prompt 0: p = /)
    }
  })

  it("with real rewards, RLOO and Dr.GRPO stay exact while 2-GRPO does not", () => {
    expect(P.scaleOnBandits(rloo(), { groupSize: 3, expectedScale: 1, rewards: "real" }).holds).toBe(true)
    expect(P.scaleOnBandits(drGrpo(), { groupSize: 3, expectedScale: 2 / 3, rewards: "real" }).holds).toBe(true)
    const two = P.scaleOnBandits(twoGrpo(), { groupSize: 2, rewards: "real" })
    expect(two.holds).toBe(false)
    expect(two.minCosine).toBeLessThan(0.9)
  })
})
