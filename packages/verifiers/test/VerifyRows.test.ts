import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { BadRowError, UnknownVerifierError, Verifier, VerifyRows } from "../src/index.js"

const rows = [
  JSON.stringify({ id: 1, pred: "so \\boxed{\\frac{1}{2}}", gold: "0.5" }),
  "",
  JSON.stringify({ id: 2, pred: "The answer is 3.", gold: "4" }),
  JSON.stringify({ id: 3, pred: "#### 72", gold: 72 })
]

async function* lines(xs: ReadonlyArray<string>): AsyncIterable<string> {
  for (const x of xs) yield x
}

describe("VerifyRows.run", () => {
  it.effect("adds correct, extracted and reward to each row, keeping its fields", () =>
    Effect.gen(function*() {
      const out = yield* VerifyRows.run(rows, "math")
      expect(out).toEqual([
        { id: 1, pred: "so \\boxed{\\frac{1}{2}}", gold: "0.5", correct: true, extracted: "\\frac{1}{2}", reward: 1 },
        { id: 2, pred: "The answer is 3.", gold: "4", correct: false, extracted: "3", reward: 0 },
        { id: 3, pred: "#### 72", gold: 72, correct: true, extracted: "72", reward: 1 }
      ])
    }))

  it.effect("reads an async iterable the same way", () =>
    Effect.gen(function*() {
      const fromArray = yield* VerifyRows.run(rows, "gsm8k")
      const fromAsync = yield* VerifyRows.run(lines(rows), "gsm8k")
      expect(fromAsync).toEqual(fromArray)
    }))

  it.effect("strict: fails on bad JSON naming the 1-based line (blank lines count)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(VerifyRows.run([rows[0]!, "", "{not json"], "math", { strict: true }))
      expect(error).toBeInstanceOf(BadRowError)
      expect(error.message).toMatch(/^line 3: invalid JSON/)
    }))

  it.effect.each([
    ['{"gold": "1"}', 'line 1: missing field "pred"'],
    ['{"pred": "1"}', 'line 1: missing field "gold"'],
    ['{"pred": "1", "gold": null}', 'line 1: field "gold" must be a string or finite number, got null'],
    ['{"pred": 1e999, "gold": "1"}', 'line 1: field "pred" must be a string or finite number, got "Infinity"'],
    ["[1, 2]", 'line 1: expected a JSON object with "pred" and "gold"']
  ])("%s -> %s", ([line, message]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(VerifyRows.run(lines([line]), "exact", { strict: true }))
      expect(error.message).toBe(message)
    }))

  it.effect("an unknown verifier name fails before reading", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(VerifyRows.run(rows, "fuzzy"))
      expect(error).toBeInstanceOf(UnknownVerifierError)
    }))

  it.effect("runWith takes any verifier, e.g. a composite", () =>
    Effect.gen(function*() {
      const composite = Verifier.composite([{ verifier: Verifier.math(), weight: 1 }, { verifier: Verifier.format(), weight: 0.5 }])
      const out = yield* VerifyRows.runWith([rows[0]!], composite)
      expect(out[0]!.reward).toBe(1.5)
    }))
  it.effect("explain adds the extracted answer, the gold answer and the deciding rule", () =>
    Effect.gen(function*() {
      const out = yield* VerifyRows.run([rows[0]!, rows[2]!], "math", { explain: true })
      expect(out.map((r) => r.explain)).toEqual([
        { extracted: "\\frac{1}{2}", gold: "0.5", rule: "same canonical form", reason: "matched (boxed)" },
        { extracted: "3", gold: "4", rule: "exact rational value", reason: "mismatch (answer-phrase)" }
      ])
      const plain = yield* VerifyRows.run([rows[0]!], "math")
      expect(plain[0]!.explain).toBeUndefined()
    }))

  it.effect("a verifier that throws on a row grades it wrong and keeps every row", () =>
    Effect.gen(function*() {
      const flaky = Verifier.make("flaky", (completion) => {
        if (completion.includes("boom")) throw new Error("boom")
        return { reward: 1, correct: true, extracted: completion }
      })
      const input = [JSON.stringify({ pred: "a", gold: "a" }), JSON.stringify({ pred: "boom", gold: "a" }), JSON.stringify({ pred: "c", gold: "c" })]
      const out = yield* VerifyRows.runWith(input, flaky, { explain: true })
      expect(out.map((r) => r.correct)).toEqual([true, false, true])
      expect(out[1]!.explain).toEqual({ extracted: null, gold: null, rule: "verifier failed", reason: "verifier failed: boom" })
    }))

  it.effect("a bad row becomes an error row and the batch goes on; strict fails at the first", () =>
    Effect.gen(function*() {
      const deep = `{"pred": "1", "gold": "1", "x": ${"[".repeat(100_000)}${"]".repeat(100_000)}}`
      const input = [rows[0]!, "{not json", '{"pred": "1", "gold": [2]}', deep, '{"pred": 1}', rows[2]!]
      const out = yield* VerifyRows.run(input, "math")
      expect(out.map((r) => r.correct)).toEqual([true, false, false, false, false, false])
      expect(out.slice(1, 5).map((r) => [r.line, r.reward, r.extracted])).toEqual([[2, 0, null], [3, 0, null], [4, 0, null], [5, 0, null]])
      expect(out[1]!.error).toMatch(/^invalid JSON/)
      expect(out[2]!.error).toBe('field "gold" must be a string or finite number, got [2]')
      expect(out[3]!.error).toMatch(/^cannot write the row back/)
      expect(out[4]!.error).toBe('missing field "gold"')
      expect(out[5]!.id).toBe(2)
      const error = yield* Effect.flip(VerifyRows.run(input, "math", { strict: true }))
      expect(error.message).toMatch(/^line 2: invalid JSON/)
    }))

  it.effect("stream hands each row on as soon as it is graded and counts", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const seenWhenRead: Array<number> = []
      async function* slow(): AsyncIterable<string> { // a live pipe: each line arrives later
        for (const l of [rows[0]!, "oops", rows[2]!]) {
          await new Promise((resolve) => setTimeout(resolve, 5))
          seenWhenRead.push(seen.length)
          yield l
        }
      }
      const summary = yield* VerifyRows.stream(slow(), Verifier.math(), {}, (_row, json) => Effect.sync(() => void seen.push(json)))
      expect(summary).toEqual({ rows: 3, correct: 1, errors: 1 })
      expect(seenWhenRead).toEqual([0, 1, 2]) // each row was emitted before the next line arrived
      expect(seen.map((j) => JSON.parse(j).correct)).toEqual([true, false, false])
    }))

  it.effect("a UTF-8 BOM on line 1 is ignored", () =>
    Effect.gen(function*() {
      const out = yield* VerifyRows.run(["\uFEFF" + rows[0]!, rows[2]!], "math", { strict: true })
      expect(out.map((r) => r.correct)).toEqual([true, false])
    }))

  // Bounded work is what `tools/verifier-fuzz` measures; tests never assert on wall time.
  it.effect("both sides are bounded: a 20 MB gold or prediction is graded, by its end", () =>
    Effect.gen(function*() {
      const big = "x ".repeat(10_000_000) + "\\boxed{5}"
      for (const name of ["math", "gsm8k", "exact"]) {
        const out = yield* VerifyRows.run([JSON.stringify({ pred: "\\boxed{5}", gold: big }), JSON.stringify({ pred: big, gold: "5" })], name)
        expect(out).toHaveLength(2)
      }
      const out = yield* VerifyRows.run([JSON.stringify({ pred: "\\boxed{5}", gold: big })], "math")
      expect(out[0]!.correct).toBe(true)
    }), 30_000)

  it.effect("1e999 is written as \"Infinity\", never null", () =>
    Effect.gen(function*() {
      const out = yield* VerifyRows.run(['{"pred": "1", "gold": "1", "score": 1e999, "low": -1e999}'], "exact")
      expect(VerifyRows.toJson(out[0]!)).toContain('"score":"Infinity","low":"-Infinity"')
      const bad = yield* VerifyRows.run(['{"pred": 1e999, "gold": "1"}'], "exact")
      expect(VerifyRows.toJson(bad[0]!)).toContain('got \\"Infinity\\"')
    }))
})
