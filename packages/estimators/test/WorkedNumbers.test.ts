/**
 * REFERENCE.md's worked numbers (verl conventions) for every estimator, to 1e-6, plus hand-derived
 * cases for the options and for REINFORCE++-baseline's token whitening.
 */
import { describe, expect, it } from "vitest"
import { AdvantageTransform, Scores, StepInfo } from "@duet/core"
import type { Transform } from "@duet/core"
import {
  drGrpo,
  grpo,
  grpoPassK,
  reinforcePlusPlusBaseline,
  rloo,
  scaleBy,
  scaleByGroupStd,
  subtractGroupMean,
  subtractLeaveOneOutMean,
  twoGrpo,
  whitenByTokens
} from "../src/index.js"

const run = (t: Transform<unknown>, rewards: number[], groups?: number[], lengths?: number[]) =>
  Array.from(
    AdvantageTransform.apply(t, Scores.make(rewards, groups ?? rewards.map(() => 0)), StepInfo.at(0, lengths)).values
  )

/** Every entry within 1e-6 of the expected number (REFERENCE.md prints verl's float32 to ~7 digits). */
const expectClose = (actual: number[], expected: number[], tol = 1e-6) => {
  expect(actual).toHaveLength(expected.length)
  actual.forEach((a, i) => {
    if (Math.abs(a - expected[i]!) > tol) throw new Error(`entry ${i}: got ${a}, expected ${expected[i]} (tol ${tol})`)
  })
}

describe("REFERENCE.md worked numbers", () => {
  it("[1, 0]: grpo +-0.70710578, dr-grpo +-0.5, rloo +-1, 2-grpo as grpo", () => {
    expectClose(run(grpo(), [1, 0]), [0.70710578, -0.70710578])
    expectClose(run(twoGrpo(), [1, 0]), [0.70710578, -0.70710578])
    expectClose(run(drGrpo(), [1, 0]), [0.5, -0.5])
    expectClose(run(rloo(), [1, 0]), [1, -1])
  })
  it("[1, 0, 0, 0]: grpo 1.499997, -0.499999 x3; dr-grpo 0.75, -0.25 x3; rloo 1, -1/3 x3", () => {
    expectClose(run(grpo(), [1, 0, 0, 0]), [1.499997, -0.499999, -0.499999, -0.499999])
    expectClose(run(drGrpo(), [1, 0, 0, 0]), [0.75, -0.25, -0.25, -0.25])
    expectClose(run(rloo(), [1, 0, 0, 0]), [1, -1 / 3, -1 / 3, -1 / 3])
  })
  it("[1, 1, 0, 0]: grpo +-0.8660239, rloo +-2/3", () => {
    expectClose(run(grpo(), [1, 1, 0, 0]), [0.8660239, 0.8660239, -0.8660239, -0.8660239])
    expectClose(run(rloo(), [1, 1, 0, 0]), [2 / 3, 2 / 3, -2 / 3, -2 / 3])
  })
  it("all-equal group -> exactly 0 for grpo, dr-grpo, 2-grpo, rloo", () => {
    for (const t of [grpo(), drGrpo(), rloo(), grpo({ eps: 0 }), grpo({ std: "population" })]) {
      expect(run(t, [0.1, 0.1, 0.1])).toEqual([0, 0, 0]) // (0.1+0.1+0.1)/3 != 0.1 in floating point
    }
    expect(run(twoGrpo(), [0.7, 0.7])).toEqual([0, 0])
  })
  it("several groups at once, labels not contiguous", () => {
    // groups 5: [1, 0], 9: [1, 0, 0, 0] interleaved
    const rewards = [1, 1, 0, 0, 0, 0]
    const groups = [9, 5, 9, 5, 9, 9]
    expectClose(run(grpo(), rewards, groups), [1.499997, 0.70710578, -0.499999, -0.70710578, -0.499999, -0.499999])
    expectClose(run(rloo(), rewards, groups), [1, 1, -1 / 3, -1, -1 / 3, -1 / 3])
  })
})

describe("options and conventions", () => {
  it("2-GRPO with the population std (paper Prop. 4.1): +-1/(1 + 2 eps)", () => {
    const e = 1 / (1 + 2e-6)
    expectClose(run(twoGrpo({ std: "population" }), [1, 0]), [e, -e], 1e-12)
    // the gap does not matter for the unbiased std either: (|d|/2)/(|d|/sqrt2 + eps)
    expectClose(run(twoGrpo(), [3, -2]), [2.5 / (5 / Math.SQRT2 + 1e-6), -2.5 / (5 / Math.SQRT2 + 1e-6)], 1e-12)
  })
  it("GRPO with TRL's eps 1e-4: 0.75 / 0.5001 and -0.25 / 0.5001", () => {
    expectClose(run(grpo({ eps: 1e-4 }), [1, 0, 0, 0]), [0.75 / 0.5001, -0.25 / 0.5001, -0.25 / 0.5001, -0.25 / 0.5001], 1e-12)
  })
  it("GRPO with the population std on [1, 0, 0, 0]: std sqrt(3)/4", () => {
    const d = Math.sqrt(3) / 4 + 1e-6
    expectClose(run(grpo({ std: "population" }), [1, 0, 0, 0]), [0.75 / d, -0.25 / d, -0.25 / d, -0.25 / d], 1e-12)
  })
  it("blocks on their own", () => {
    expectClose(run(subtractGroupMean(), [3, 1, 2], [0, 0, 1]), [1, -1, 0], 0)
    // [4, 0]: unbiased std 2*sqrt2, not centred first: 4 / (2 sqrt2 + 1e-6)
    expectClose(run(scaleByGroupStd(), [4, 0]), [4 / (2 * Math.SQRT2 + 1e-6), 0], 1e-12)
    expectClose(run(scaleByGroupStd({ std: "population", eps: 0 }), [4, 0]), [2, 0], 1e-12)
    expectClose(run(subtractLeaveOneOutMean(), [3, 0, 0]), [3, -1.5, -1.5], 1e-12)
    expectClose(run(scaleBy(-2), [1, 0.5]), [-2, -1], 0)
  })
})

describe("extreme scales: the std neither underflows nor overflows", () => {
  it("grpo eps=0 on a 1e-170 spread and on a 1e200 spread still gives +-1/sqrt2", () => {
    // naive sum of squares: (5e-171)^2 underflows to 0 (A would be 0/0), (1e200)^2 overflows (A would be 0)
    expectClose(run(grpo({ eps: 0 }), [1e-170, 0]), [Math.SQRT1_2, -Math.SQRT1_2], 1e-15)
    expectClose(run(grpo(), [1e200, -1e200]), [Math.SQRT1_2, -Math.SQRT1_2], 1e-15)
    expectClose(run(reinforcePlusPlusBaseline({ eps: 0 }), [1e-170, 0], [0, 0], [1, 1]), [Math.SQRT1_2, -Math.SQRT1_2], 1e-15)
    expectClose(run(reinforcePlusPlusBaseline(), [1e200, -1e200], [0, 0], [1, 1]), [Math.SQRT1_2, -Math.SQRT1_2], 1e-15)
  })
})

describe("REINFORCE++-baseline (token-weighted whitening, verl masked_whiten)", () => {
  it("hand-derived: rewards [1,0 | 1,1], lengths [3,5,2,2]", () => {
    // s = [1/2, -1/2, 0, 0]; T = 12; mu = (3/2 - 5/2)/12 = -1/12; s - mu = [7, -5, 1, 1]/12
    // var = (3*49 + 5*25 + 2 + 2)/144 / 11 = 276/1584
    const sd = Math.sqrt(276 / 1584 + 1e-8)
    const expected = [7 / 12 / sd, -5 / 12 / sd, 1 / 12 / sd, 1 / 12 / sd]
    expectClose(run(reinforcePlusPlusBaseline(), [1, 0, 1, 1], [7, 7, 3, 3], [3, 5, 2, 2]), expected, 1e-12)
    // the same numbers from a numpy re-implementation of verl's code (tensors over tokens):
    expectClose(run(reinforcePlusPlusBaseline(), [1, 0, 1, 1], [7, 7, 3, 3], [3, 5, 2, 2]), [
      1.397461426532142, -0.9981867332372442, 0.1996373466474488, 0.1996373466474488
    ], 1e-12)
    // the zero-variance group (label 3) did NOT get 0: it got -mu / sd
    expect(expected[2]).toBeGreaterThan(0.19)
  })
  it("numpy re-implementation of verl on interleaved groups and fractional rewards", () => {
    expectClose(
      run(reinforcePlusPlusBaseline(), [0.5, 0.2, 0.9, 1, 0, 0], [1, 2, 1, 2, 1, 2], [4, 1, 6, 3, 2, 5]),
      [-0.08092458271843389, -0.6473966617474706, 0.8901704099027717, 1.294793323494941, -1.294793323494941, -1.1329441580580735],
      1e-12
    )
  })
  it("a row of length 0 has no tokens: advantage 0, and it counts in neither mean nor variance", () => {
    const withEmpty = run(whitenByTokens(), [5, 1, 3], [0, 0, 0], [2, 0, 2])
    const without = run(whitenByTokens(), [5, 3], [0, 0], [2, 2])
    expectClose(withEmpty, [without[0]!, 0, without[1]!], 0)
  })
})

describe("pass@k advantage (verl grpo_passk)", () => {
  it("[1, 0, 0, 0]: the best row gets (1 - 0)/(0.5 + 1e-6) = 1.999996, the others 0", () => {
    expectClose(run(grpoPassK(), [1, 0, 0, 0]), [1 / 0.500001, 0, 0, 0], 1e-12)
    expectClose(run(grpoPassK({ scaleByStd: false }), [0, 0.25, 1, 0.5]), [0, 0, 0.5, 0], 0)
  })
  it("a tied maximum gives 0 to every row; groups are separate", () => {
    expectClose(run(grpoPassK(), [1, 1, 0, 3, 2], [0, 0, 0, 1, 1]), [0, 0, 0, 1 / (Math.SQRT1_2 + 1e-6), 0], 1e-12)
  })
})
