import { describe, expect, it } from "vitest"
import { Rng } from "@duet/core"
import { Concentration } from "../src/index.js"

describe("Concentration", () => {
  it("Hoeffding by hand: range 1, n = 100, delta = 0.05 -> sqrt(ln 40 / 200) = 0.135810", () => {
    expect(Concentration.hoeffding({ range: 1, samples: 100, delta: 0.05 })).toBeCloseTo(Math.sqrt(Math.log(40) / 200), 15)
    expect(Concentration.hoeffding({ range: 1, samples: 100, delta: 0.05 })).toBeCloseTo(0.13581, 5)
  })

  it("empirical Bernstein by hand: V = 0, range 1, n = 101, delta = 0.04 -> 7 ln(100) / 300", () => {
    expect(Concentration.empiricalBernstein({ range: 1, samples: 101, delta: 0.04, sampleVariance: 0 })).toBeCloseTo(
      (7 * Math.log(100)) / 300,
      15
    )
  })

  it("covers: Bernoulli(0.3) means of 200 draws miss 0.3 by more than t in at most delta of 2000 trials", () => {
    // A bound that is too small would miss often; Hoeffding at delta = 0.05 should miss rarely
    // (expected misses <= 100; it is conservative, so far fewer).
    const rng = Rng.seeded(9)
    const n = 200
    const t = Concentration.hoeffding({ range: 1, samples: n, delta: 0.05 })
    let misses = 0
    for (let trial = 0; trial < 2000; trial++) {
      let s = 0
      for (let i = 0; i < n; i++) s += rng.bernoulli(0.3) ? 1 : 0
      if (Math.abs(s / n - 0.3) > t) misses++
    }
    expect(misses).toBeLessThanOrEqual(100)
  })

  it("rejects bad parameters", () => {
    expect(() => Concentration.hoeffding({ range: 1, samples: 1, delta: 0.1 })).toThrow(/samples/)
    expect(() => Concentration.hoeffding({ range: 1, samples: 10, delta: 0 })).toThrow(/delta/)
    expect(() => Concentration.hoeffding({ range: -1, samples: 10, delta: 0.1 })).toThrow(/range/)
  })
})
