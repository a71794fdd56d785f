import { it } from "@effect/vitest"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import { DatasetError, Jsonl } from "../src/index.js"

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname

describe("Jsonl.load", () => {
  it.effect("GSM8K rows: prompt = question, gold = the #### number without separators", () =>
    Effect.gen(function* () {
      const file = fixture("gsm8k.jsonl")
      const problems = yield* Jsonl.load(file, { format: "gsm8k" })
      expect(problems.map((p) => p.answer)).toEqual(["72", "10", "1200"])
      expect(problems[0]!.prompt).toMatch(/^Natalia sold clips/)
      // Ids carry the line; line 3 is blank so the third row is line 4.
      expect(problems.map((p) => p.id)).toEqual([`${file}:1`, `${file}:2`, `${file}:4`])
      expect(problems[2]!.meta).toEqual({ solution: "40 * 30 = <<40*30=1200>>1200 eggs." })
    })
  )

  it.effect("MATH rows: the answer field when present, else the last balanced \\boxed{}", () =>
    Effect.gen(function* () {
      const problems = yield* Jsonl.load(fixture("math.jsonl"), { format: "math" })
      expect(problems.map((p) => p.answer)).toEqual(["\\frac{3}{4}", "3", "\\{-1, 1\\}", "42"])
      expect(problems[0]!.meta).toMatchObject({ level: "Level 1", type: "Prealgebra" })
      expect(problems[3]!.meta).toMatchObject({ unique_id: "test/prealgebra/1.json" })
    })
  )

  it.effect("a custom mapping of dot paths, with array indexes and numeric golds", () =>
    Effect.gen(function* () {
      const file = fixture("custom.jsonl")
      const format = { prompt: "input.turns.0.text", answer: "target", id: "uid" }
      const error = yield* Effect.flip(Jsonl.load(file, { format }))
      expect(error.message).toBe(`${file}:3: field "input.turns.0.text": is missing`)
      const { problems, skipped } = yield* Jsonl.read(file, { format })
      expect(problems).toEqual([
        { id: "a1", prompt: "Add 2 and 2.", answer: "4", meta: {} },
        { id: "a2", prompt: "Add 3 and 5.", answer: "8", meta: {} }
      ])
      expect(skipped.map((e) => e.line)).toEqual([3])
    })
  )

  it.effect("the first bad row fails the load, naming file and line", () =>
    Effect.gen(function* () {
      const file = fixture("gsm8k-bad.jsonl")
      const error = yield* Effect.flip(Jsonl.load(file, { format: "gsm8k" }))
      expect(error).toBeInstanceOf(DatasetError)
      expect(error._tag).toBe("DatasetError")
      expect(error.file).toBe(file)
      expect(error.line).toBe(3)
      expect(error.message).toMatch(new RegExp(`^${file}:3: invalid JSON`))
    })
  )

  it.effect("onBadRow: skip keeps the good rows; read lists every bad one", () =>
    Effect.gen(function* () {
      const file = fixture("gsm8k-bad.jsonl")
      const problems = yield* Jsonl.load(file, { format: "gsm8k", onBadRow: "skip" })
      expect(problems.map((p) => p.answer)).toEqual(["5", "7"])
      const { skipped } = yield* Jsonl.read(file, { format: "gsm8k" })
      expect(skipped.map((e) => [e.line, e.field])).toEqual([
        [3, undefined],
        [5, "answer"],
        [6, "question"]
      ])
      expect(skipped[1]!.message).toBe(`${file}:5: field "answer": has no "#### N" final answer`)
    })
  )

  it.effect("MATH bad rows: no box, unbalanced box, a row that is not an object", () =>
    Effect.gen(function* () {
      const file = fixture("math-bad.jsonl")
      const { problems, skipped } = yield* Jsonl.read(file, { format: "math" })
      expect(problems.map((p) => p.answer)).toEqual(["2"])
      expect(skipped.map((e) => e.message)).toEqual([
        `${file}:2: field "solution": has no \\boxed{...} answer (and there is no answer field)`,
        `${file}:3: field "solution": has no \\boxed{...} answer (and there is no answer field)`,
        `${file}:4: row is a list, not an object`
      ])
    })
  )

  it.effect("a missing file, a malformed format and an empty file are errors naming the file", () =>
    Effect.gen(function* () {
      const missing = yield* Effect.flip(Jsonl.load(fixture("nope.jsonl"), { format: "gsm8k" }))
      expect(missing.message).toMatch(/nope\.jsonl: cannot read: ENOENT/)
      const bad = yield* Effect.flip(Jsonl.load(fixture("gsm8k.jsonl"), { format: { prompt: "q" } as never }))
      expect(bad.message).toMatch(/gsm8k\.jsonl: format\.answer must be a non-empty dot path/)
      const parsed = Jsonl.parse("\n  \n", "empty.jsonl", "gsm8k")
      expect(parsed).toEqual({ problems: [], skipped: [] })
    })
  )

  it("parse handles CRLF and a byte-order mark", () => {
    const text = '\uFEFF{"question": "q1", "answer": "#### 1"}\r\n{"question": "q2", "answer": "#### 2"}\r\n'
    const { problems, skipped } = Jsonl.parse(text, "x.jsonl", "gsm8k")
    expect(skipped).toEqual([])
    expect(problems.map((p) => [p.id, p.prompt, p.answer])).toEqual([
      ["x.jsonl:1", "q1", "1"],
      ["x.jsonl:2", "q2", "2"]
    ])
  })
})

describe("Jsonl: bounded rows (issue 13)", () => {
  const row = (q: string) => JSON.stringify({ question: q, answer: "so #### 3" })
  it.effect("a line over maxLineBytes is a bad row named by file and line, found without parsing it", () =>
    Effect.gen(function* () {
      const { mkdtempSync, writeFileSync } = yield* Effect.promise(() => import("node:fs"))
      const { tmpdir } = yield* Effect.promise(() => import("node:os"))
      const file = `${mkdtempSync(`${tmpdir()}/duet-jsonl-`)}/big.jsonl`
      // 20 MB of an unterminated string: parsing it would fail too, but only after reading it all.
      writeFileSync(file, [row("1+2?"), '{"question": "' + "x".repeat(20_000_000), row("2+1?")].join("\n"))
      const error = yield* Effect.flip(Jsonl.load(file, { format: "gsm8k" }))
      expect(error.message).toBe(`${file}:2: is 20,000,014 bytes, over the limit of 1,048,576 bytes per row (maxLineBytes)`)
      const { problems, skipped } = yield* Jsonl.read(file, { format: "gsm8k" })
      expect(problems.map((p) => p.id)).toEqual([`${file}:1`, `${file}:3`])
      expect(skipped.map((e) => e.line)).toEqual([2])
      const loose = yield* Jsonl.load(file, { format: "gsm8k", maxLineBytes: 10 })
        .pipe(Effect.flip)
      expect(loose.line).toBe(1)
    })
  )
})
