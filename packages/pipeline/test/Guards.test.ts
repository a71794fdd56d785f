import { describe, expect, it } from "vitest"
import { Guards } from "../src/index.js"

const spec = { passDrop: 0.05, minEntropy: 0.02, zeroAdvantage: 0.98, patience: 3, action: "warn" } as const

describe("Guards", () => {
  it("warns on low entropy, once", () => {
    const state = Guards.initial()
    const a1 = Guards.fresh(state, Guards.afterStep(spec, state, 0, { entropy: 0.01, zeroStdGroups: 0.5 }))
    expect(a1.map((a) => a.guard)).toEqual(["minEntropy"])
    expect(a1[0]!.message).toContain("guards.minEntropy 0.02")
    expect(Guards.fresh(state, Guards.afterStep(spec, state, 1, { entropy: 0.01, zeroStdGroups: 0.5 }))).toEqual([])
    expect(Guards.afterStep(spec, Guards.initial(), 0, { entropy: 0.5, zeroStdGroups: 0.5 })).toEqual([])
  })

  it("warns when nearly every group has zero advantage for `patience` steps in a row", () => {
    const state = Guards.initial()
    const at = (step: number, z: number) => Guards.afterStep(spec, state, step, { entropy: 1, zeroStdGroups: z })
    expect(at(0, 0.99)).toEqual([])
    expect(at(1, 0.99)).toEqual([])
    expect(at(2, 0.5)).toEqual([]) // the streak restarts
    expect(at(3, 1)).toEqual([])
    expect(at(4, 1)).toEqual([])
    expect(at(5, 0.985).map((a) => a.guard)).toEqual(["zeroAdvantage"])
  })

  it("warns when test Pass@n falls more than passDrop below the start", () => {
    expect(Guards.afterEval(spec, 100, 0.8, 0.76, 8)).toEqual([])
    const [alarm] = Guards.afterEval(spec, 100, 0.8, 0.7, 8)
    expect(alarm!.guard).toBe("passDrop")
    expect(alarm!.message).toContain("Pass@8 70.0% fell 10.0% below the start's 80.0%")
    expect(Guards.afterEval({ ...spec, passDrop: false }, 100, 0.8, 0.1, 8)).toEqual([])
  })
})
