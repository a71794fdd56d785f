/**
 * Bad input fails with a typed error naming what is wrong: singleton groups, 2-GRPO's size rule,
 * missing token lengths, NaN sneaking in through directly-built Scores, out-of-domain options.
 */
import { describe, expect, it } from "vitest"
import {
  AdvantageTransform,
  EmptyGroupError,
  GroupSizeError,
  InvalidArgumentError,
  NonFiniteValueError,
  Scores,
  StepInfo
} from "@duet/core"
import type { Transform } from "@duet/core"
import {
  byName,
  drGrpo,
  estimatorNames,
  grpo,
  grpoPassK,
  optionsUsedBy,
  parseEstimatorName,
  reinforcePlusPlusBaseline,
  rloo,
  scaleBy,
  scaleByGroupStd,
  subtractGroupMean,
  subtractLeaveOneOutMean,
  twoGrpo,
  whitenByTokens
} from "../src/index.js"

const lengths4 = StepInfo.at(0, [3, 3, 3, 3])
const thrown = (f: () => unknown): unknown => {
  try {
    f()
  } catch (e) {
    return e
  }
  throw new Error("expected a throw")
}

describe("group sizes", () => {
  const singleton = Scores.make([1, 0, 1], [4, 4, 8]) // group 8 has one rollout
  const groupEstimators: Array<[string, Transform<unknown>]> = [
    ["grpo", grpo()],
    ["dr-grpo", drGrpo()],
    ["2-grpo", twoGrpo()],
    ["rloo", rloo()],
    ["reinforce-pp-baseline", reinforcePlusPlusBaseline()],
    ["grpo-passk", grpoPassK()]
  ]
  it.each(groupEstimators)("%s refuses a singleton group with GroupSizeError naming itself and the group", (name, t) => {
    expect(t.minGroupSize).toBe(2)
    const e = thrown(() => AdvantageTransform.apply(t, singleton, StepInfo.at(0, [3, 3, 3])))
    expect(e).toBeInstanceOf(GroupSizeError)
    expect((e as GroupSizeError).estimator).toBe(name)
    expect((e as GroupSizeError).group).toBe(8)
    expect((e as GroupSizeError).size).toBe(1)
    expect((e as Error).message).toBe(
      `${name}: group 8 has 1 rollout, needs ${name === "2-grpo" ? "exactly 2" : "at least 2"}`
    )
  })
  it("2-grpo refuses a group of 3 (and of 4) but takes pairs", () => {
    const e = thrown(() => AdvantageTransform.apply(twoGrpo(), Scores.make([1, 0, 1, 0, 0], [0, 0, 1, 1, 1])))
    expect(e).toBeInstanceOf(GroupSizeError)
    expect((e as Error).message).toBe("2-grpo: group 1 has 3 rollouts, needs exactly 2")
    expect(() => AdvantageTransform.apply(twoGrpo(), Scores.make([1, 0, 0, 0], [0, 0, 0, 0]))).toThrow(GroupSizeError)
    expect(() => AdvantageTransform.apply(twoGrpo(), Scores.make([1, 0, 0, 0], [0, 0, 1, 1]))).not.toThrow()
  })
  it("blocks that divide by n - 1 refuse singletons themselves; population std and the mean do not", () => {
    expect(() => AdvantageTransform.apply(scaleByGroupStd(), singleton)).toThrow(GroupSizeError)
    expect(() => AdvantageTransform.apply(subtractLeaveOneOutMean(), singleton)).toThrow(GroupSizeError)
    expect(Array.from(AdvantageTransform.apply(subtractGroupMean(), singleton).values)).toEqual([0.5, -0.5, 0])
    expect(scaleByGroupStd({ std: "population" }).minGroupSize).toBe(1)
  })
})

describe("token lengths (whitenByTokens, reinforce-pp-baseline)", () => {
  const scores = Scores.make([1, 0, 0, 0], [0, 0, 1, 1])
  it("missing lengths -> InvalidArgumentError on 'lengths'", () => {
    for (const t of [whitenByTokens(), reinforcePlusPlusBaseline()] as Array<Transform<unknown>>) {
      const e = thrown(() => AdvantageTransform.apply(t, scores, { step: 0 }))
      expect(e).toBeInstanceOf(InvalidArgumentError)
      expect((e as InvalidArgumentError).field).toBe("lengths")
    }
  })
  it("wrong count, negative entries, fewer than 2 tokens", () => {
    const bad = (lengths: number[]) =>
      thrown(() => AdvantageTransform.apply(whitenByTokens(), scores, { step: 0, lengths: Int32Array.from(lengths) }))
    expect((bad([1, 2, 3]) as InvalidArgumentError).field).toBe("lengths")
    expect((bad([1, -2, 3, 4]) as InvalidArgumentError).field).toBe("lengths[1]")
    expect((bad([0, 1, 0, 0]) as InvalidArgumentError).field).toBe("lengths")
    expect(() => AdvantageTransform.apply(whitenByTokens(), scores, lengths4)).not.toThrow()
  })
})

describe("Scores built directly, bypassing Scores.make", () => {
  const every: Array<Transform<unknown>> = [
    grpo(),
    drGrpo(),
    twoGrpo(),
    rloo(),
    reinforcePlusPlusBaseline(),
    grpoPassK(),
    subtractGroupMean(),
    scaleByGroupStd(),
    subtractLeaveOneOutMean(),
    whitenByTokens(),
    scaleBy(2)
  ]
  it.each([NaN, Infinity, -Infinity])("a %s value -> NonFiniteValueError naming scores.values[1]", (bad) => {
    const scores: Scores.Scores = { values: Float64Array.of(1, bad, 0, 0), group: Int32Array.of(0, 0, 1, 1) }
    for (const t of every) {
      const e = thrown(() => AdvantageTransform.apply(t, scores, lengths4))
      expect(e, t.name).toBeInstanceOf(NonFiniteValueError)
      expect((e as Error).message).toContain("scores.values[1]")
    }
  })
  it("mismatched lengths -> InvalidArgumentError; empty batch -> EmptyGroupError", () => {
    const short: Scores.Scores = { values: Float64Array.of(1, 0, 0), group: Int32Array.of(0, 0) }
    const empty: Scores.Scores = { values: new Float64Array(0), group: new Int32Array(0) }
    for (const t of every) {
      expect(() => AdvantageTransform.apply(t, short, StepInfo.at(0, [1, 1, 1])), t.name).toThrow(InvalidArgumentError)
      expect(() => AdvantageTransform.apply(t, empty, StepInfo.at(0, [])), t.name).toThrow(EmptyGroupError)
    }
  })
  it("an overflow inside a block is refused rather than returned as Infinity", () => {
    const huge = Scores.make([1.7e308, -1.7e308], [0, 0])
    expect(() => AdvantageTransform.apply(drGrpo(), huge)).toThrow(NonFiniteValueError)
  })
})

describe("options are checked at construction", () => {
  it("eps must be finite and >= 0", () => {
    for (const eps of [-1e-6, NaN, Infinity]) {
      for (const make of [() => grpo({ eps }), () => twoGrpo({ eps }), () => reinforcePlusPlusBaseline({ eps }), () => grpoPassK({ eps })]) {
        const e = thrown(make)
        expect(e).toBeInstanceOf(InvalidArgumentError)
        expect((e as InvalidArgumentError).field).toBe("eps")
      }
    }
    expect(() => grpo({ eps: 0 })).not.toThrow()
  })
  it("std must be 'unbiased' or 'population' (untyped input, e.g. a recipe file)", () => {
    const e = thrown(() => grpo({ std: "sample" as never }))
    expect(e).toBeInstanceOf(InvalidArgumentError)
    expect((e as InvalidArgumentError).field).toBe("std")
  })
  it("scaleBy needs a finite constant", () => {
    expect((thrown(() => scaleBy(NaN)) as InvalidArgumentError).field).toBe("c")
  })
})

describe("byName", () => {
  it("knows exactly the five CLI names, each giving the recipe of that name", () => {
    expect([...estimatorNames]).toEqual(["grpo", "dr-grpo", "2-grpo", "rloo", "reinforce-pp-baseline", "grpo-passk", "opo"])
    for (const name of estimatorNames) expect(byName(name).name).toBe(name)
  })
  it("passes eps and std through to the estimators that read them", () => {
    const s = Scores.make([1, 0, 0, 0], [0, 0, 0, 0])
    const viaName = AdvantageTransform.apply(byName("grpo", { eps: 1e-4, std: "population" }), s).values
    const direct = AdvantageTransform.apply(grpo({ eps: 1e-4, std: "population" }), s).values
    expect(Array.from(viaName)).toEqual(Array.from(direct))
    const pair = Scores.make([1, 0], [0, 0])
    expect(Array.from(AdvantageTransform.apply(byName("2-grpo", { std: "population", eps: 0 }), pair).values)).toEqual([1, -1])
    const info = StepInfo.at(0, [2, 2])
    const whitened = (eps: number) => AdvantageTransform.apply(byName("reinforce-pp-baseline", { eps }), pair, info).values[0]!
    // s = [1/2, -1/2] over 4 tokens: var = 4 (1/4) / 3 = 1/3, so A = (1/2) / sqrt(1/3 + eps)
    expect(whitened(0)).toBeCloseTo(0.5 / Math.sqrt(1 / 3), 14)
    expect(whitened(1)).toBeCloseTo(0.5 / Math.sqrt(4 / 3), 14)
    expect(optionsUsedBy.rloo).toEqual([])
    expect(optionsUsedBy["2-grpo"]).toEqual(["eps", "std"])
  })
  it("rejects an unknown name with InvalidArgumentError on 'estimator' listing the valid ones", () => {
    const e = thrown(() => byName("ppo" as never))
    expect(e).toBeInstanceOf(InvalidArgumentError)
    expect((e as Error).message).toBe('estimator: is "ppo"; expected one of grpo, dr-grpo, 2-grpo, rloo, reinforce-pp-baseline, grpo-passk, opo')
    expect(parseEstimatorName("rloo")).toBe("rloo")
  })
})
