import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { InvalidArgumentError, NonFiniteValueError, Rng } from "@duet/core"
import { Bandit } from "../src/index.js"

describe("Bandit", () => {
  it("softmax of [0, ln 3] is [1/4, 3/4], and is stable for huge logits", () => {
    const p = Bandit.softmax([0, Math.log(3)])
    expect(p[0]).toBeCloseTo(0.25, 15)
    expect(p[1]).toBeCloseTo(0.75, 15)
    const q = Bandit.softmax([1000, 1000 + Math.log(3)])
    expect(q[0]).toBeCloseTo(0.25, 12) // 1000 + ln 3 is rounded to ~1e-13
  })

  it("grad J by hand: logits [0, 0], rewards [1, 0] -> pi_0 r_0 (e_0 - pi) = (0.25, -0.25)", () => {
    const b = Bandit.make({ logits: [0, 0], rewards: [1, 0] })
    expect(Array.from(Bandit.trueGradient(b))).toEqual([0.25, -0.25])
    expect(Bandit.expectedReward(b, 0)).toBe(0.5)
  })

  it("grad J with two prompts is the weighted concatenation of the blocks", () => {
    const b = Bandit.fromPrompts(
      [
        { logits: [0, 0], rewards: [1, 0] },
        { logits: [Math.log(9), 0, 0], rewards: [0, 1, 0] }
      ],
      [3, 1]
    )
    const g = Bandit.trueGradient(b)
    expect(b.dimension).toBe(5)
    expect(g[0]).toBeCloseTo(0.75 * 0.25, 15)
    // prompt 2: pi = (9, 1, 1)/11, J = 1/11; block = w pi_k (r_k - J)
    expect(g[3]).toBeCloseTo(0.25 * (1 / 11) * (1 - 1 / 11), 15)
    expect(g[2]).toBeCloseTo(0.25 * (9 / 11) * (0 - 1 / 11), 15)
  })

  it("property: grad J equals the finite-difference gradient of J", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5 }), fc.integer({ min: 0, max: 1e6 }), (arms, seed) => {
        const b = Bandit.random(Rng.seeded(seed), { arms, rewards: "real" })
        const { logits, rewards } = b.prompts[0]!
        const J = (th: Float64Array) => {
          const p = Bandit.softmax(th)
          return p.reduce((s, x, k) => s + x * rewards[k]!, 0)
        }
        const g = Bandit.trueGradient(b)
        const h = 1e-6
        for (let k = 0; k < arms; k++) {
          const plus = Float64Array.from(logits)
          const minus = Float64Array.from(logits)
          plus[k]! += h
          minus[k]! -= h
          // central difference error O(h^2 |J'''|) + rounding O(eps/h); both < 1e-8 here
          expect(Math.abs((J(plus) - J(minus)) / (2 * h) - g[k]!)).toBeLessThan(1e-8)
        }
      }),
      { seed: 42, numRuns: 50 }
    )
  })

  it("random: same seed, same bandit; binary prompts always mix correct and wrong arms", () => {
    const a = Bandit.random(Rng.seeded(7), { arms: 3, prompts: 20 })
    const b = Bandit.random(Rng.seeded(7), { arms: 3, prompts: 20 })
    expect(a.prompts.map((p) => Array.from(p.logits))).toEqual(b.prompts.map((p) => Array.from(p.logits)))
    for (const p of a.prompts) {
      const correct = p.rewards.reduce((s, r) => s + r, 0)
      expect(correct).toBeGreaterThan(0)
      expect(correct).toBeLessThan(3)
    }
    expect(Bandit.isBinary(a)).toBe(true)
    expect(Bandit.isBinary(Bandit.random(Rng.seeded(7), { arms: 3, rewards: "real" }))).toBe(false)
  })

  it("rejects bad input with typed errors naming the field", () => {
    expect(() => Bandit.make({ logits: [0], rewards: [1] })).toThrow(InvalidArgumentError)
    expect(() => Bandit.make({ logits: [0, 1], rewards: [1] })).toThrow(/rewards/)
    expect(() => Bandit.make({ logits: [0, Number.NaN], rewards: [1, 0] })).toThrow(NonFiniteValueError)
    expect(() => Bandit.fromPrompts([{ logits: [0, 0], rewards: [1, Infinity] }])).toThrow(/prompts\[0\]\.rewards/)
    expect(() => Bandit.fromPrompts([{ logits: [0, 0], rewards: [1, 0] }], [-1])).toThrow(/weights\[0\]/)
    expect(() => Bandit.random(Rng.seeded(0), { arms: 1 })).toThrow(/arms/)
  })
})
