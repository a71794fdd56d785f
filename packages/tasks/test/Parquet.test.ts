import { it } from "@effect/vitest"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import { it as test } from "vitest"
import { Parquet, RowFormat } from "../src/index.js"

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname
const instruction = " Let's think step by step and output the final answer after \"####\"."

describe("Parquet.load", () => {
  it.effect("verl rows (nested LIST<STRUCT> prompt, STRUCT reward_model): last user message and ground truth", () =>
    Effect.gen(function* () {
      const file = fixture("verl-gsm8k.parquet")
      const problems = yield* Parquet.load(file)
      expect(problems.map((p) => p.answer)).toEqual(["72", "10", "1200"])
      expect(problems.map((p) => p.id)).toEqual([`${file}#0`, `${file}#1`, `${file}#2`])
      expect(problems[1]!.prompt).toBe(`Weng earns $12 an hour. How much for 50 minutes?${instruction}`)
      expect(problems[1]!.meta).toEqual({
        messages: [
          { role: "system", content: "You are a careful solver." },
          { role: "user", content: `Weng earns $12 an hour. How much for 50 minutes?${instruction}` }
        ],
        data_source: "openai/gsm8k",
        ability: "math",
        extra_info: { index: 1, split: "train" } // INT64 as a number: JSON.stringify throws on a bigint
      })
    })
  )

  it.effect("a bad row fails the load naming file and 0-based row; skip keeps the rest", () =>
    Effect.gen(function* () {
      const file = fixture("verl-bad.parquet")
      const error = yield* Effect.flip(Parquet.load(file))
      expect(error.row).toBe(2)
      expect(error.message).toBe(`${file} row 2: field "reward_model.ground_truth": is missing`)
      const { problems, skipped } = yield* Parquet.read(file)
      expect(problems.map((p) => p.answer)).toEqual(["2", "4"])
      expect(skipped.map((e) => e.message)).toEqual([
        `${file} row 2: field "reward_model.ground_truth": is missing`,
        `${file} row 3: field "prompt": chat has no user message`
      ])
      expect((yield* Parquet.load(file, { onBadRow: "skip" })).length).toBe(2)
    })
  )

  it.effect("Hugging Face's flat GSM8K parquet with format gsm8k, and a mapping onto any columns", () =>
    Effect.gen(function* () {
      const file = fixture("hf-gsm8k.parquet")
      const problems = yield* Parquet.load(file, { format: "gsm8k" })
      expect(problems.map((p) => [p.prompt, p.answer])).toEqual([
        ["What is 5 + 6?", "11"],
        ["What is 12 * 12?", "144"]
      ])
      const mapped = yield* Parquet.load(file, { format: { prompt: "question", answer: "answer", gold: "after-hashes" } })
      expect(mapped.map((p) => p.answer)).toEqual(["11", "144"])
      const viaMapping = yield* Parquet.load(file, { mapping: { prompt: "question", answer: "answer", gold: "after-hashes" } })
      expect(viaMapping).toEqual(mapped)
      const both = yield* Effect.flip(Parquet.load(file, { format: "gsm8k", mapping: { prompt: "question", answer: "answer" } }))
      expect(both.message).toBe(`${file}: give either format or mapping, not both`)
    })
  )

  it.effect("a file that is not Parquet, or is missing, fails naming the file", () =>
    Effect.gen(function* () {
      const notParquet = yield* Effect.flip(Parquet.load(fixture("not-parquet.parquet")))
      expect(notParquet.message).toMatch(/not-parquet\.parquet: cannot read as Parquet: /)
      const missing = yield* Effect.flip(Parquet.load(fixture("nope.parquet")))
      expect(missing.message).toMatch(/nope\.parquet: cannot read as Parquet: .*ENOENT/)
    })
  )

  it("fromRows: non-scalar ground truths (TinyZero countdown) are JSON-encoded and kept raw", () => {
    const rows = [{ prompt: "3 5 7 to 22:", reward_model: { ground_truth: { target: 22n, numbers: [3, 5, 7] } } }]
    const { problems } = Parquet.fromRows(rows, "cd.parquet", "verl")
    expect(problems[0]!.answer).toBe('{"target":22,"numbers":[3,5,7]}')
    expect(problems[0]!.meta).toEqual({ groundTruth: { target: 22, numbers: [3, 5, 7] } })
    // Beyond 2^53 an INT64 keeps its digits as a string.
    const big = Parquet.fromRows([{ prompt: "p", reward_model: { ground_truth: "1" }, extra_info: { index: 2n ** 60n } }], "b.parquet", "verl")
    expect((big.problems[0]!.meta as { extra_info: unknown }).extra_info).toEqual({ index: "1152921504606846976" })
    expect(() => JSON.stringify(big.problems)).not.toThrow()
  })
})

describe("RowFormat.detect / auto", () => {
  test("picks the shape from the first row's columns, and says what it found when it cannot", () => {
    expect(RowFormat.detect({ question: "q", answer: "a #### 1" })).toBe("gsm8k")
    expect(RowFormat.detect({ problem: "p", solution: "s" })).toBe("math")
    expect(RowFormat.detect({ prompt: [], reward_model: {}, data_source: "openai/gsm8k" })).toBe("verl")
    expect(RowFormat.detect({ prompt: [], reward_model: {}, data_source: "math_dapo" })).toBe("dapo")
    expect(RowFormat.detect({ text: "x" })).toMatch(/cannot detect the format from the columns "text": give format/)
    const auto = Parquet.fromRows([{ question: "1+1?", answer: "so 2\n#### 2" }], "a.parquet", "auto")
    expect(auto.problems[0]).toMatchObject({ prompt: "1+1?", answer: "2", meta: { solution: "so 2" } })
    expect(Parquet.fromRows([{ text: "x" }], "t.parquet", "auto").skipped[0]!.message).toMatch(/^t\.parquet row 0: cannot detect/)
  })
})
