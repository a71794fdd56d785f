import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { InvalidArgumentError, NonFiniteValueError } from "@duet/core"
import { KlCoefficient } from "../src/index.js"

fc.configureGlobal({ seed: 42 })

// One multiply-add in doubles on values <= 1: a few ulps.
const close = (actual: number, expected: number) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(8 * Number.EPSILON * Math.abs(expected))

describe("KlCoefficient.fixedKl", () => {
  it("never moves", () => {
    const kl = KlCoefficient.fixedKl(0.001)
    const s = kl.update(kl.init(), { kl: 100, nSteps: 512 })
    expect(kl.coefficient(s)).toBe(0.001)
  })
})

describe("KlCoefficient.adaptiveKl (Ziegler et al. 2019; TRL/verl AdaptiveKLController)", () => {
  const ctl = KlCoefficient.adaptiveKl({ init: 0.2, target: 6, horizon: 10000 })
  it("worked numbers: init 0.2, target 6, horizon 10000, batch 256", () => {
    // kl 12: error clip(12/6 - 1) = 0.2 -> beta 0.2 (1 + 0.2 * 0.0256) = 0.201024
    close(ctl.coefficient(ctl.update(ctl.init(), { kl: 12, nSteps: 256 })), 0.201024)
    // kl 3: error clip(-0.5) = -0.2 -> 0.2 (1 - 0.00512) = 0.198976
    close(ctl.coefficient(ctl.update(ctl.init(), { kl: 3, nSteps: 256 })), 0.198976)
    // kl 6.6: error 0.1 (inside the clip) -> 0.2 (1 + 0.00256) = 0.200512
    close(ctl.coefficient(ctl.update(ctl.init(), { kl: 6.6, nSteps: 256 })), 0.200512)
    // on target: unchanged
    expect(ctl.coefficient(ctl.update(ctl.init(), { kl: 6, nSteps: 256 }))).toBe(0.2)
  })
  it("moves beta toward the target, by at most the clipped factor (property)", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-3, max: 10, noNaN: true }),
        fc.double({ min: 1e-3, max: 10, noNaN: true }),
        fc.double({ min: 0, max: 50, noNaN: true }),
        fc.integer({ min: 1, max: 4096 }),
        (init, target, kl, nSteps) => {
          const c = KlCoefficient.adaptiveKl({ init, target, horizon: 10000 })
          const next = c.coefficient(c.update(c.init(), { kl, nSteps }))
          if (kl > target) expect(next).toBeGreaterThanOrEqual(init)
          if (kl < target) expect(next).toBeLessThanOrEqual(init)
          // next / init - 1 is computed near 1: two roundings of size 2^-53 each, plus the product's
          expect(Math.abs(next / init - 1)).toBeLessThanOrEqual(0.2 * (nSteps / 10000) + 4 * Number.EPSILON)
        }
      )
    )
  })
  it("steers a KL that falls as beta rises (kl = 1 / beta) to the target", () => {
    // Closed loop: the fixed point is beta* = 1 / target. Each step moves beta a fraction of the way.
    const c = KlCoefficient.adaptiveKl({ init: 0.05, target: 2, horizon: 100 })
    let s = c.init()
    for (let i = 0; i < 2000; i++) s = c.update(s, { kl: 1 / c.coefficient(s), nSteps: 10 })
    expect(Math.abs(1 / c.coefficient(s) - 2)).toBeLessThan(1e-6)
  })
  it("rejects bad settings and observations with typed errors", () => {
    expect(() => KlCoefficient.adaptiveKl({ init: 0.2, target: 0, horizon: 10 })).toThrow(/target/)
    expect(() => ctl.update(ctl.init(), { kl: Number.NaN, nSteps: 1 })).toThrow(NonFiniteValueError)
    expect(() => ctl.update(ctl.init(), { kl: 1, nSteps: 60000 })).toThrow(InvalidArgumentError)
  })
})
