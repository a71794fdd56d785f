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

  it.effect("fails on bad JSON naming the 1-based line (blank lines count)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(VerifyRows.run([rows[0]!, "", "{not json"], "math"))
      expect(error).toBeInstanceOf(BadRowError)
      expect(error.message).toMatch(/^line 3: invalid JSON/)
    }))

  it.effect.each([
    ['{"gold": "1"}', 'line 1: missing field "pred"'],
    ['{"pred": "1"}', 'line 1: missing field "gold"'],
    ['{"pred": "1", "gold": null}', 'line 1: field "gold" must be a string or number, got null'],
    ["[1, 2]", 'line 1: expected a JSON object with "pred" and "gold"']
  ])("%s -> %s", ([line, message]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(VerifyRows.run(lines([line]), "exact"))
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
})
