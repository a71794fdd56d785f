import { EmptyGroupError, InvalidArgumentError } from "@duet/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Metrics } from "../src/index.js"

fc.configureGlobal({ seed: 42 })

/** C(n, k) as an exact BigInt. */
const choose = (n: number, k: number): bigint => {
  if (k < 0 || k > n) return 0n
  let r = 1n
  for (let j = 0; j < k; j++) r = (r * BigInt(n - j)) / BigInt(j + 1)
  return r
}

describe("Metrics.passAtK", () => {
  it("1 correct of 4: k = 1..4 gives 1/4, 1/2, 3/4, 1", () => {
    // 1 - C(3, k) / C(4, k): 1 - 3/4, 1 - 3/6, 1 - 1/4, 1 - 0/1.
    expect(Metrics.passAtK(4, 1, 1)).toBeCloseTo(0.25, 15)
    expect(Metrics.passAtK(4, 1, 2)).toBeCloseTo(0.5, 15)
    expect(Metrics.passAtK(4, 1, 3)).toBeCloseTo(0.75, 15)
    expect(Metrics.passAtK(4, 1, 4)).toBe(1)
  })

  it("2 correct of 5 at k = 2: 1 - C(3,2)/C(5,2) = 0.7", () => {
    expect(Metrics.passAtK(5, 2, 2)).toBeCloseTo(0.7, 15)
  })

  it("none correct is 0 and all correct is 1", () => {
    expect(Metrics.passAtK(8, 0, 3)).toBe(0)
    expect(Metrics.passAtK(8, 8, 3)).toBe(1)
  })

  it("matches the combinatorial formula 1 - C(n-c, k) / C(n, k)", () => {
    const nck = fc.integer({ min: 1, max: 40 }).chain((n) =>
      fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n }), fc.integer({ min: 1, max: n }))
    )
    fc.assert(
      fc.property(nck, ([n, c, k]) => {
        const exact = 1 - Number(choose(n - c, k)) / Number(choose(n, k))
        // Product of at most 40 factors in [0, 1]: each rounds by <= 2^-53 relative, so 1e-12 is ample.
        expect(Math.abs(Metrics.passAtK(n, c, k) - exact)).toBeLessThan(1e-12)
      })
    )
  })

  it("pass@1 is c / n, and pass@k grows with k and with c", () => {
    const nck = fc.integer({ min: 2, max: 50 }).chain((n) =>
      fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 1, max: n - 1 }))
    )
    fc.assert(
      fc.property(nck, ([n, c, k]) => {
        expect(Metrics.passAtK(n, c, 1)).toBeCloseTo(c / n, 12)
        expect(Metrics.passAtK(n, c, k + 1)).toBeGreaterThanOrEqual(Metrics.passAtK(n, c, k) - 1e-15)
        expect(Metrics.passAtK(n, c + 1, k)).toBeGreaterThanOrEqual(Metrics.passAtK(n, c, k) - 1e-15)
      })
    )
  })

  it("rejects k > n, c > n and non-integers", () => {
    expect(() => Metrics.passAtK(4, 1, 5)).toThrow(InvalidArgumentError)
    expect(() => Metrics.passAtK(4, 5, 1)).toThrow(/exceeds/)
    expect(() => Metrics.passAtK(4, 1.5, 1)).toThrow(/c: must be an integer/)
    expect(() => Metrics.passAtK(0, 0, 1)).toThrow(/n: must be an integer >= 1/)
  })
})

describe("Metrics.meanAtK and meanPassAtK", () => {
  const samples = [
    [true, false, false, false],
    [true, true, false, false]
  ]

  it("Mean@4 averages per-problem accuracy: (1/4 + 2/4) / 2", () => {
    expect(Metrics.meanAtK(samples)).toBeCloseTo(0.375, 15)
  })

  it("weights problems equally, whatever their sample counts", () => {
    expect(Metrics.meanAtK([[true], [false, false, false, true]])).toBeCloseTo((1 + 0.25) / 2, 15)
  })

  it("pass@2 averages 1/2 and 1 - C(2,2)/C(4,2) = 5/6", () => {
    expect(Metrics.meanPassAtK(samples, 2)).toBeCloseTo((0.5 + 5 / 6) / 2, 15)
  })

  it("pass@1 equals Mean@n", () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), { minLength: 1, maxLength: 10 }), (rows) => {
        expect(Metrics.meanPassAtK(rows, 1)).toBeCloseTo(Metrics.meanAtK(rows), 12)
      })
    )
  })

  it("rejects empty input and problems with fewer than k samples", () => {
    expect(() => Metrics.meanAtK([])).toThrow(EmptyGroupError)
    expect(() => Metrics.meanAtK([[true], []])).toThrow(/problem 1 has no samples/)
    expect(() => Metrics.meanPassAtK([[true, false], [true]], 2)).toThrow(/correct\[1\]: has 1 samples, pass@2 needs at least 2/)
  })
})
