import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { InvalidArgumentError } from "@duet/core"
import { LearningRate, Schedule } from "../src/index.js"

fc.configureGlobal({ seed: 42 })

// Each value below is a handful of double operations on numbers of size <= 1, so it is exact to a
// few ulps: 8 * 2^-52 relative is a generous bound for <= 4 roundings.
const ulps = (expected: number) => 8 * Number.EPSILON * Math.max(Math.abs(expected), Number.MIN_VALUE)
const close = (actual: number, expected: number) => expect(Math.abs(actual - expected)).toBeLessThanOrEqual(ulps(expected))

describe("LearningRate.linearWarmup (the paper: constant lr, linear warm-up over the first 10 steps)", () => {
  it("is k/10 of the peak at steps 0..10, then the peak", () => {
    const lr = LearningRate.linearWarmup(8e-6, 10)
    const expected = [0, 0.8e-6, 1.6e-6, 2.4e-6, 3.2e-6, 4e-6, 4.8e-6, 5.6e-6, 6.4e-6, 7.2e-6, 8e-6, 8e-6]
    Schedule.sample(lr, 12).forEach((v, k) => close(v, expected[k]!))
    expect(lr(1000)).toBe(8e-6)
  })
  it("starts from init when given", () => {
    const lr = LearningRate.linearWarmup(1, 4, { init: 0.2 })
    close(lr(0), 0.2)
    close(lr(2), 0.6)
    expect(lr(4)).toBe(1)
  })
  it("warmupSteps 0 is the constant schedule", () => {
    expect(LearningRate.linearWarmup(3e-4, 0)(0)).toBe(3e-4)
  })
  it("is monotone non-decreasing and within [0, lr] (property)", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 1000 }),
        fc.double({ min: 0, max: 2000, noNaN: true }),
        fc.double({ min: 0, max: 2000, noNaN: true }),
        (peak, warmup, a, b) => {
          const lr = LearningRate.linearWarmup(peak, warmup)
          const [s, t] = a <= b ? [a, b] : [b, a]
          expect(lr(s)).toBeLessThanOrEqual(lr(t))
          expect(lr(s)).toBeGreaterThanOrEqual(0)
          expect(lr(t)).toBeLessThanOrEqual(peak)
        }
      )
    )
  })
})

describe("LearningRate.cosine", () => {
  it("hits its endpoints: peak at the end of warm-up, final at total and after", () => {
    const lr = LearningRate.cosine({ peak: 1, warmup: 10, total: 110, final: 0.1 })
    expect(lr(0)).toBe(0)
    close(lr(5), 0.5)
    expect(lr(10)).toBe(1)
    // half-way through the decay cos(pi/2) = 0: (peak + final) / 2
    close(lr(60), 0.55)
    // a quarter of the way: final + (peak - final)(1 + cos(pi/4))/2 = 0.1 + 0.9 * 0.8535533905932737
    close(lr(35), 0.1 + 0.9 * 0.8535533905932737)
    expect(lr(110)).toBe(0.1)
    expect(lr(1e6)).toBe(0.1)
  })
  it("is within [final, peak] after warm-up, non-increasing, and >= 0 everywhere (property)", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.double({ min: 0, max: 2000, noNaN: true }),
        fc.double({ min: 0, max: 2000, noNaN: true }),
        (x, y, warmup, decay, a, b) => {
          const [final, peak] = x <= y ? [x, y] : [y, x]
          const lr = LearningRate.cosine({ peak, warmup, total: warmup + decay, final })
          expect(lr(a)).toBeGreaterThanOrEqual(0)
          const [s, t] = a <= b ? [a, b] : [b, a]
          if (s >= warmup) {
            for (const v of [lr(s), lr(t)]) {
              expect(v).toBeGreaterThanOrEqual(final)
              expect(v).toBeLessThanOrEqual(peak)
            }
            expect(lr(t)).toBeLessThanOrEqual(lr(s))
          }
        }
      )
    )
  })
  it("refuses total <= warmup and final > peak, naming the field", () => {
    expect(() => LearningRate.cosine({ peak: 1, warmup: 10, total: 10 })).toThrow(InvalidArgumentError)
    expect(() => LearningRate.cosine({ peak: 1, warmup: 10, total: 10 })).toThrow(/cosine\.total/)
    expect(() => LearningRate.cosine({ peak: 1, total: 10, final: 2 })).toThrow(/cosine\.final/)
  })
})

describe("LearningRate.linearDecay", () => {
  it("goes linearly from peak to final after warm-up (HF get_linear_schedule_with_warmup)", () => {
    const lr = LearningRate.linearDecay({ peak: 1, warmup: 10, total: 110 })
    close(lr(5), 0.5)
    expect(lr(10)).toBe(1)
    close(lr(60), 0.5)
    close(lr(85), 0.25)
    expect(lr(110)).toBe(0)
    expect(lr(500)).toBe(0)
  })
})

describe("LearningRate input checks", () => {
  it("rejects negative or non-finite lr and steps", () => {
    expect(() => LearningRate.constant(-1)).toThrow(/constant\.lr/)
    expect(() => LearningRate.constant(Number.NaN)).toThrow(/constant\.lr/)
    expect(() => LearningRate.constant(1)(-1)).toThrow(/step/)
    expect(() => LearningRate.linearWarmup(1, 10)(Number.POSITIVE_INFINITY)).toThrow(InvalidArgumentError)
    expect(() => LearningRate.linearWarmup(1, 10, { init: 2 })).toThrow(/init/)
  })
})
