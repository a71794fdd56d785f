import { describe, expect, it } from "vitest"
import { Alphabet, Arithmetic, Countdown, Dataset, type Problem } from "../src/index.js"

describe("Dataset", () => {
  it("splits draws the three splits of a task with their sizes", () => {
    const s = Dataset.splits(Arithmetic.task(), { train: 300, test: 50, ood: 20 }, 5)
    expect([s.train.split, s.test.split, s.ood.split]).toEqual(["train", "test", "ood"])
    expect([s.train.problems.length, s.test.problems.length, s.ood.problems.length]).toEqual([300, 50, 20])
    expect(s.test.problems).toEqual(Arithmetic.task().split("test", { size: 50, seed: 5 }))
  })

  it("describe prints one aligned line per dataset (worked example)", () => {
    const mk = (prompt: string, answer: string): Problem => ({ id: prompt, prompt, answer })
    const a = Dataset.make("toy", "train", [mk("1+1=", "2"), mk("10+10=", "20")])
    const b = Dataset.make("toy", "test", [mk("2+2=", "4")])
    expect(Dataset.describe([a, b])).toBe(
      [
        "dataset  split  size  prompt max  prompt mean  answer max",
        "toy      train     2           6          5.0           2",
        "toy      test      1           4          4.0           1"
      ].join("\n")
    )
    expect(Dataset.summary(a)).toEqual({ name: "toy", split: "train", size: 2, distinctPrompts: 2, promptMax: 6, promptMean: 5, answerMax: 2 })
    expect(() => Dataset.describe([])).toThrow(/datasets/)
  })

  it("holdOut splits loaded problems by prompt hash: disjoint, complete, order-independent", () => {
    const ps = Arithmetic.task().split("train", { size: 500, seed: 0 })
    const dup = [...ps, ps[0]!, ps[1]!]
    const { train, test } = Dataset.holdOut(Dataset.make("file", "all", dup), { testShare: 0.3 })
    expect(train.problems.length + test.problems.length).toBe(dup.length)
    const testPrompts = new Set(test.problems.map((p) => p.prompt))
    expect(train.problems.filter((p) => testPrompts.has(p.prompt))).toEqual([])
    const again = Dataset.holdOut(Dataset.make("file", "all", [...dup].reverse()), { testShare: 0.3 })
    expect(new Set(again.test.problems.map((p) => p.prompt))).toEqual(testPrompts)
  })

  it("one alphabet can cover several tasks", () => {
    expect(Alphabet.union(Arithmetic.alphabet, Countdown.alphabet)).toBe("\n ()*+-/0123456789:=ot")
    expect(Alphabet.of("ba", "ab\n")).toBe("\nab")
    expect(() => Alphabet.check("12x", Arithmetic.alphabet, "prompt")).toThrow('prompt: contains "x"')
  })
})
