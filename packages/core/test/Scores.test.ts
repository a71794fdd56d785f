import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { EmptyGroupError, GroupSizeError, InvalidArgumentError, NonFiniteValueError, Scores } from "../src/index.js"

describe("Scores.make", () => {
  it("copies values and labels into typed arrays", () => {
    const s = Scores.make([1, 0, 0.5], [7, 7, 3])
    expect(Array.from(s.values)).toEqual([1, 0, 0.5])
    expect(Array.from(s.group)).toEqual([7, 7, 3])
  })
  it("rejects mismatched lengths, naming both fields", () => {
    expect(() => Scores.make([1, 0], [0])).toThrow(InvalidArgumentError)
    expect(() => Scores.make([1, 0], [0])).toThrow(/groups.*1 entries.*rewards has 2/)
  })
  it("rejects an empty batch", () => {
    expect(() => Scores.make([], [])).toThrow(EmptyGroupError)
  })
  it("rejects NaN and infinities with the index", () => {
    expect(() => Scores.make([1, Number.NaN], [0, 0])).toThrow(NonFiniteValueError)
    expect(() => Scores.make([1, Number.POSITIVE_INFINITY], [0, 0])).toThrow(/rewards\[1\] is Infinity/)
  })
  it("rejects non-integer group labels", () => {
    expect(() => Scores.make([1, 0], [0, 0.5])).toThrow(/groups\[1\]/)
  })
})

describe("Scores.groupIndex", () => {
  it("numbers groups densely in order of first appearance", () => {
    const idx = Scores.groupIndex(Scores.make([1, 2, 3, 4, 5], [9, 4, 9, 4, 1]))
    expect(idx.count).toBe(3)
    expect(Array.from(idx.ids)).toEqual([0, 1, 0, 1, 2])
    expect(Array.from(idx.sizes)).toEqual([2, 2, 1])
    expect(Array.from(idx.labels)).toEqual([9, 4, 1])
  })
  it("group sums and means agree with a naive computation (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: -3, max: 3 })), {
          minLength: 1,
          maxLength: 40
        }),
        (rows) => {
          const s = Scores.make(
            rows.map((r) => r[0]),
            rows.map((r) => r[1])
          )
          const idx = Scores.groupIndex(s)
          const means = Scores.groupMeans(s.values, idx)
          for (let g = 0; g < idx.count; g++) {
            const members = rows.filter((r) => r[1] === idx.labels[g]).map((r) => r[0])
            const naive = members.reduce((a, b) => a + b, 0) / members.length
            expect(means[g]).toBeCloseTo(naive, 6)
            expect(idx.sizes[g]).toBe(members.length)
          }
        }
      ),
      { seed: 42 }
    )
  })
  it("requireGroupSizes names the estimator, the group and the size", () => {
    const idx = Scores.groupIndex(Scores.make([1, 0, 1], [0, 0, 5]))
    expect(() => Scores.requireGroupSizes(idx, "grpo", { min: 2 })).toThrow(GroupSizeError)
    expect(() => Scores.requireGroupSizes(idx, "grpo", { min: 2 })).toThrow("grpo: group 5 has 1 rollout, needs at least 2")
    expect(() => Scores.requireGroupSizes(idx, "2-grpo", { exact: 2 })).toThrow(/group 5 .* exactly 2/)
    const ok = Scores.groupIndex(Scores.make([1, 0], [0, 0]))
    expect(() => Scores.requireGroupSizes(ok, "2-grpo", { exact: 2 })).not.toThrow()
  })
})
