import { describe, expect, it } from "vitest"
import { Arithmetic, Partition } from "../src/index.js"

describe("ProblemSampler: a size beyond the problem space", () => {
  it("fails after a stall of draws, not 100 x size draws, naming the split and what turned up", () => {
    const task = Arithmetic.task({ ops: ["+"], digits: { min: 1, max: 1 }, oodDigits: { min: 2, max: 2 } })
    // 100 ordered pairs, ~80 on the train side: asking for 10^8 used to mean 10^10 draws.
    expect(() => task.split("train", { size: 100_000_000, seed: 1 })).toThrow(/arithmetic\.train\.size: is 100000000, but only \d+ distinct train problems turned up in \d+ draws/)
  })
  it("still finds every problem of a small space (the stall window grows with what was found)", () => {
    const task = Arithmetic.task({ ops: ["+"], digits: { min: 1, max: 1 }, oodDigits: { min: 2, max: 2 } })
    const all = new Set<string>()
    for (let d = 0; d < 100; d++) all.add(`${Math.floor(d / 10)}+${d % 10}=`)
    const side = Partition.make(0.2, "arithmetic")
    const trainSide = [...all].filter((p) => Partition.sideOf(side, p) === "train")
    for (const seed of [1, 2, 3, 4, 5]) {
      const train = task.split("train", { size: trainSide.length, seed })
      expect(new Set(train.map((p) => p.prompt))).toEqual(new Set(trainSide))
    }
  })
  it("capacity bounds the distinct problems of each split", () => {
    const task = Arithmetic.task({ ops: ["+", "-", "+"], digits: { min: 1, max: 2 }, oodDigits: { min: 3, max: 3 } })
    expect(task.capacity?.("train")).toBe(2 * 100 * 100)
    expect(task.capacity?.("ood")).toBe(2 * 900 * 900)
    const one = Arithmetic.task({ ops: ["*"], digits: { min: 1, max: 1 }, oodDigits: { min: 1, max: 2 } })
    // OOD keeps pairs with an operand of 2 digits: 100^2 - 10^2.
    expect(one.capacity?.("ood")).toBe(100 * 100 - 10 * 10)
  })
})
