/** The public surface others code against: flat names and per-module namespaces are the same values. */
import { describe, expect, it } from "vitest"
import * as Estimators from "../src/index.js"

describe("@duet/estimators exports", () => {
  it("flat names and namespaces", () => {
    expect(Estimators.grpo).toBe(Estimators.Grpo.grpo)
    expect(Estimators.drGrpo).toBe(Estimators.DrGrpo.drGrpo)
    expect(Estimators.twoGrpo).toBe(Estimators.TwoGrpo.twoGrpo)
    expect(Estimators.rloo).toBe(Estimators.Rloo.rloo)
    expect(Estimators.reinforcePlusPlusBaseline).toBe(Estimators.ReinforcePlusPlusBaseline.reinforcePlusPlusBaseline)
    expect(Estimators.grpoPassK).toBe(Estimators.GrpoPassK.grpoPassK)
    expect(Estimators.preferencePairs).toBe(Estimators.PreferencePairs.preferencePairs)
    expect(Estimators.subtractGroupMean).toBe(Estimators.GroupMean.subtractGroupMean)
    expect(Estimators.scaleByGroupStd).toBe(Estimators.GroupStd.scaleByGroupStd)
    expect(Estimators.subtractLeaveOneOutMean).toBe(Estimators.LeaveOneOut.subtractLeaveOneOutMean)
    expect(Estimators.whitenByTokens).toBe(Estimators.TokenWhitening.whitenByTokens)
    expect(Estimators.scaleBy).toBe(Estimators.Scale.scaleBy)
    expect(Estimators.byName).toBe(Estimators.EstimatorNames.byName)
    expect(Estimators.estimatorNames).toBe(Estimators.EstimatorNames.estimatorNames)
  })
  it("recipe names and minimum group sizes", () => {
    const recipes = [
      [Estimators.grpo(), "grpo"],
      [Estimators.drGrpo(), "dr-grpo"],
      [Estimators.twoGrpo(), "2-grpo"],
      [Estimators.rloo(), "rloo"],
      [Estimators.reinforcePlusPlusBaseline(), "reinforce-pp-baseline"],
      [Estimators.grpoPassK(), "grpo-passk"]
    ] as const
    for (const [t, name] of recipes) {
      expect(t.name).toBe(name)
      expect(t.minGroupSize).toBe(2)
    }
  })
})
