import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { AdvantageTransform, InvalidArgumentError, Scores, StepInfo } from "@duet/core"
import { drGrpo, Registry } from "../src/index.js"

const opo = () => Registry.make({ kind: "opo" })
const apply = (rewards: number[], groups: number[], lengths: number[]) =>
  Array.from(AdvantageTransform.apply(opo(), Scores.make(rewards, groups), StepInfo.at(0, lengths)).values)

describe("opo (length-weighted group-mean baseline, verl compute_opo_outcome_advantage)", () => {
  it("worked numbers", () => {
    // baseline (1*1 + 3*0) / 4 = 0.25
    expect(apply([1, 0], [0, 0], [1, 3])).toEqual([0.75, -0.25])
    // baseline (2*1 + 2*1 + 4*0) / 8 = 0.5; a group of one keeps its reward (verl)
    expect(apply([1, 1, 0, 0.5], [0, 0, 0, 1], [2, 2, 4, 7])).toEqual([0.5, 0.5, -0.5, 0.5])
    // all responses empty: the plain mean
    expect(apply([1, 0], [0, 0], [0, 0])).toEqual([0.5, -0.5])
  })

  it("equal lengths give Dr.GRPO's advantages; equal rewards give 0", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 2, maxLength: 8 }), fc.integer({ min: 1, max: 50 }), (rewards, length) => {
        const groups = rewards.map(() => 0)
        const lengths = rewards.map(() => length)
        const dr = Array.from(AdvantageTransform.apply(drGrpo(), Scores.make(rewards, groups)).values)
        apply(rewards, groups, lengths).forEach((a, i) => expect(a).toBeCloseTo(dr[i]!, 12))
        expect(apply(rewards.map(() => 1), groups, lengths).every((a) => a === 0)).toBe(true)
      })
    )
  })

  it("needs the lengths, one per row", () => {
    expect(() => AdvantageTransform.apply(opo(), Scores.make([1, 0], [0, 0]))).toThrow(InvalidArgumentError)
    expect(() => apply([1, 0], [0, 0], [1])).toThrow(/lengths: opo: has 1 entries but scores has 2/)
    expect(Registry.entry("opo").needsLengths).toBe(true)
  })
})
