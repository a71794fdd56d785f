import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { InvalidArgumentError, NonFiniteValueError, Rng } from "@duet/core"
import { GroupSize } from "../src/index.js"

fc.configureGlobal({ seed: 42 })

describe("GroupSize.fixedGroupSize", () => {
  it("draws g in the first round, then nothing", () => {
    const g = GroupSize.fixedGroupSize(2)
    expect(g.plan(7, [], 0)).toBe(2)
    expect(g.plan(7, [1, 1], 0)).toBe(0)
    expect(() => g.plan(7, [1, 1, 0], 0)).toThrow(InvalidArgumentError)
  })
})

describe("GroupSize.adaptiveGroupSize (2 -> 4 -> 8 -> 16 while concordant)", () => {
  const g = GroupSize.adaptiveGroupSize({ initial: 2, max: 16 })
  it("follows the documented rule", () => {
    expect(g.plan(0, [], 0)).toBe(2)
    expect(g.plan(0, [1], 0)).toBe(1)
    expect(g.plan(0, [1, 0], 0)).toBe(0)
    expect(g.plan(0, [0, 0], 0)).toBe(2)
    expect(g.plan(0, [1, 1, 1, 1], 0)).toBe(4)
    expect(g.plan(0, [0, 0, 0, 0, 0, 0, 0, 0], 0)).toBe(8)
    expect(g.plan(0, Array(16).fill(1), 0)).toBe(0)
    expect(g.plan(0, [0, 0, 0, 1], 0)).toBe(0)
  })
  it("addEach grows by a fixed step and caps at max", () => {
    const a = GroupSize.adaptiveGroupSize({ initial: 2, max: 10, grow: GroupSize.addEach(3) })
    expect(a.plan(0, [1, 1], 0)).toBe(3)
    expect(a.plan(0, Array(5).fill(1), 0)).toBe(3)
    expect(a.plan(0, Array(8).fill(1), 0)).toBe(2)
    expect(a.plan(0, Array(10).fill(1), 0)).toBe(0)
  })
  it("tolerance makes near-equal real rewards concordant", () => {
    const a = GroupSize.adaptiveGroupSize({ tolerance: 0.01 })
    expect(a.plan(0, [0.5, 0.505], 0)).toBe(2)
    expect(a.plan(0, [0.5, 0.52], 0)).toBe(0)
  })
  it("never exceeds max, terminates, and returns 0 once a group is discordant (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 0, max: 24 }),
        fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer(),
        (initial, extra, k, p, seed) => {
          const max = initial + extra
          const policy = GroupSize.adaptiveGroupSize({ initial, max, grow: k === undefined ? GroupSize.doubling : GroupSize.addEach(k) })
          const rng = Rng.seeded(seed)
          const rewards: number[] = []
          for (let round = 0; ; round++) {
            expect(round).toBeLessThanOrEqual(max)
            const more = policy.plan(1, rewards, 0)
            expect(more).toBeGreaterThanOrEqual(0)
            expect(rewards.length + more).toBeLessThanOrEqual(max)
            const discordant = rewards.length >= initial && new Set(rewards).size > 1
            if (discordant) expect(more).toBe(0)
            if (more === 0) break
            for (let i = 0; i < more; i++) rewards.push(rng.bernoulli(p) ? 1 : 0)
          }
          expect(rewards.length).toBeGreaterThanOrEqual(initial)
        }
      )
    )
  })
  it("rejects bad settings, NaN rewards and a grow that returns 0", () => {
    expect(() => GroupSize.adaptiveGroupSize({ initial: 1 })).toThrow(/initial/)
    expect(() => GroupSize.adaptiveGroupSize({ initial: 4, max: 3 })).toThrow(/max/)
    expect(() => g.plan(0, [1, Number.NaN], 0)).toThrow(NonFiniteValueError)
    const bad = GroupSize.adaptiveGroupSize({ grow: () => 0 })
    expect(() => bad.plan(0, [1, 1], 0)).toThrow(/grow/)
  })
})

describe("GroupSize.expectedOutcome (exact, binary rewards)", () => {
  // q_n: probability that n rewards all agree
  const q = (p: number, n: number) => p ** n + (1 - p) ** n
  it("fixed 2: two rollouts, contrast 2p(1-p)", () => {
    for (const p of [0, 0.1, 0.5, 0.9]) {
      const o = GroupSize.expectedOutcome(GroupSize.fixedGroupSize(2), p)
      expect(o.expectedRollouts).toBe(2)
      expect(Math.abs(o.contrastProbability - 2 * p * (1 - p))).toBeLessThan(1e-15)
    }
  })
  it("adaptive 2..16 doubling: E[n] = 2 + 2 q2 + 4 q4 + 8 q8, contrast 1 - q16", () => {
    for (const p of [0.05, 0.1, 0.5, 0.97]) {
      const o = GroupSize.expectedOutcome(GroupSize.adaptiveGroupSize(), p)
      // sums of <= 2^16 products of probabilities: relative error ~ 1e-13 at most
      expect(Math.abs(o.expectedRollouts - (2 + 2 * q(p, 2) + 4 * q(p, 4) + 8 * q(p, 8)))).toBeLessThan(1e-12)
      expect(Math.abs(o.contrastProbability - (1 - q(p, 16)))).toBeLessThan(1e-12)
    }
  })
})
