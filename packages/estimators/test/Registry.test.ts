/**
 * The one list of built-in estimators: every entry builds what it names, its group-size rule is the
 * transform's, its options are the ones its constructor reads, and untyped options are checked.
 */
import { describe, expect, it } from "vitest"
import { AdvantageTransform, GroupSizeError, InvalidArgumentError, Scores, StepInfo } from "@duet/core"
import { EstimatorEntry, Registry, grpoPassK, reinforcePlusPlusBaseline } from "../src/index.js"

const pair = Scores.make([1, 0], [0, 0])
const four = Scores.make([1, 0, 0, 0], [0, 0, 0, 0])

describe("Registry", () => {
  it("lists every built-in estimator once, grpo-passk included", () => {
    expect(Registry.names).toEqual(["grpo", "dr-grpo", "2-grpo", "rloo", "reinforce-pp-baseline", "grpo-passk", "opo"])
    expect(new Set(Registry.names).size).toBe(Registry.names.length)
  })

  it("each entry builds the transform it names, with its group-size rule", () => {
    for (const e of Registry.estimators) {
      const t = Registry.make({ kind: e.name } as Registry.EstimatorSpec)
      expect(t.name).toBe(e.name)
      const min = "exact" in e.groupSize ? e.groupSize.exact : e.groupSize.min
      expect(t.minGroupSize).toBe(min)
      const info = StepInfo.at(0, e.needsLengths ? [3, 3, 3, 3] : undefined)
      if ("exact" in e.groupSize) expect(() => AdvantageTransform.apply(t, four, info)).toThrow(GroupSizeError)
      else expect(Array.from(AdvantageTransform.apply(t, four, info).values).every(Number.isFinite)).toBe(true)
    }
  })

  it("options reach the constructor: grpo-passk's scaleByStd, reinforce-pp-baseline's eps", () => {
    expect(Array.from(AdvantageTransform.apply(Registry.make({ kind: "grpo-passk", scaleByStd: false }), four).values)).toEqual([1, 0, 0, 0])
    expect(AdvantageTransform.apply(Registry.make({ kind: "grpo-passk" }), four).values[0]).toBeCloseTo(1.999996, 6)
    const info = StepInfo.at(0, [1, 1])
    const viaRegistry = AdvantageTransform.apply(Registry.make({ kind: "reinforce-pp-baseline", eps: 0.5 }), pair, info).values
    expect(Array.from(viaRegistry)).toEqual(Array.from(AdvantageTransform.apply(reinforcePlusPlusBaseline({ eps: 0.5 }), pair, info).values))
    expect(Array.from(viaRegistry)).not.toEqual(Array.from(AdvantageTransform.apply(reinforcePlusPlusBaseline(), pair, info).values))
    expect(Array.from(AdvantageTransform.apply(Registry.make({ kind: "grpo-passk", std: "population", eps: 0 }), four).values)).toEqual(
      Array.from(AdvantageTransform.apply(grpoPassK({ std: "population", eps: 0 }), four).values)
    )
  })

  it("untyped options are checked against the entry's specs", () => {
    const passk = Registry.entry("grpo-passk")
    expect(EstimatorEntry.parseOptions(passk, { scaleByStd: false, eps: 1e-4 })).toEqual({ scaleByStd: false, eps: 1e-4 })
    expect(() => EstimatorEntry.parseOptions(passk, { scaleByStd: "no" })).toThrow(/grpo-passk: is "no"; expected true or false/)
    expect(() => EstimatorEntry.parseOptions(Registry.entry("rloo"), { eps: 1 })).toThrow(/rloo has no option "eps"; it takes none/)
    expect(() => EstimatorEntry.parseOptions(Registry.entry("grpo"), { std: "sample" })).toThrow(/expected "unbiased" or "population"/)
    expect(() => EstimatorEntry.parseOptions(Registry.entry("grpo"), { eps: -1 })).toThrow(/expected a finite number >= 0/)
    expect(() => Registry.entry("ppo")).toThrow(InvalidArgumentError)
    expect(() => Registry.entry("ppo")).toThrow(/expected one of grpo, dr-grpo, 2-grpo, rloo, reinforce-pp-baseline, grpo-passk, opo/)
  })
})
