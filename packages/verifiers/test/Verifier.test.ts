import { InvalidArgumentError } from "@duet/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { UnknownVerifierError, Verifier } from "../src/index.js"

const verify = (completion: string, gold: string) =>
  Effect.gen(function*() {
    const v = yield* Verifier
    return yield* v.verify(completion, gold)
  })

describe("Verifier layers", () => {
  it.effect("math: reward 1 for a right boxed answer, 0 otherwise", () =>
    Effect.gen(function*() {
      expect(yield* verify("so \\boxed{\\frac12}", "0.5")).toEqual({
        reward: 1,
        correct: true,
        extracted: "\\frac12",
        explanation: { extracted: "\\frac12", gold: "0.5", rule: "same canonical form", reason: "matched (boxed)" }
      })
      expect(yield* verify("so \\boxed{2}", "0.5")).toMatchObject({ reward: 0, correct: false, extracted: "2" })
      expect((yield* Verifier).name).toBe("math")
    }).pipe(Effect.provide(Verifier.layerMath)))

  it.effect("gsm8k: takes the dataset's answer field as gold", () =>
    Effect.gen(function*() {
      expect((yield* verify("#### 72", "48+24 = <<48+24=72>>72\n#### 72")).correct).toBe(true)
      // A gold with nothing after #### is a wrong answer, not a failure.
      expect(yield* verify("#### 72", "####")).toMatchObject({ reward: 0, correct: false, extracted: null, explanation: { rule: "bad gold" } })
    }).pipe(Effect.provide(Verifier.layerGsm8k)))

  it.effect("exact: string equality of the extracted answer", () =>
    Effect.gen(function*() {
      expect((yield* verify("\\boxed{Paris}", "Paris")).reward).toBe(1)
      expect((yield* verify("\\boxed{1/2}", "0.5")).reward).toBe(0)
    }).pipe(Effect.provide(Verifier.layerExactMatch)))

  it.effect("format: ignores the gold", () =>
    Effect.gen(function*() {
      expect(yield* verify("\\boxed{3}", "anything")).toMatchObject({ reward: 1, correct: true, extracted: "3" })
      expect((yield* verify("3", "3")).reward).toBe(0)
    }).pipe(Effect.provide(Verifier.layerFormat)))

  it.effect("test: a deterministic fake (trimmed equality)", () =>
    Effect.gen(function*() {
      expect(yield* verify(" 7 ", "7")).toEqual({ reward: 1, correct: true, extracted: "7" })
      expect((yield* verify("\\boxed{7}", "7")).correct).toBe(false)
    }).pipe(Effect.provide(Verifier.layerTest)))

  it.effect("composite: math 1.0 + format 0.1", () =>
    Effect.gen(function*() {
      expect(yield* verify("\\boxed{5}", "5")).toMatchObject({ reward: 1.1, correct: true, extracted: "5", explanation: { rule: "identical text" } })
      const wrongBoxed = yield* verify("\\boxed{4}", "5")
      expect(wrongBoxed.reward).toBeCloseTo(0.1, 15)
      expect(wrongBoxed.correct).toBe(false)
      // Right answer, no box: math finds the last number, format gives nothing.
      expect(yield* verify("it is 5", "5")).toMatchObject({ reward: 1, correct: true, extracted: "5" })
      expect((yield* Verifier).name).toBe("composite(math*1+format*0.1)")
    }).pipe(Effect.provide(Verifier.layerComposite([
      { verifier: Verifier.math(), weight: 1 },
      { verifier: Verifier.format(), weight: 0.1 }
    ]))))

  it("composite rejects no parts and non-finite weights", () => {
    expect(() => Verifier.composite([])).toThrow(InvalidArgumentError)
    expect(() => Verifier.composite([{ verifier: Verifier.test, weight: Number.NaN }])).toThrow(/parts\[0\]\.weight/)
  })
})

describe("Verifier.byName", () => {
  it.effect.each(Verifier.names)("%s builds", (name) =>
    Effect.gen(function*() {
      expect((yield* Verifier).name).toBe(name)
    }).pipe(Effect.provide(Verifier.byName(name))))

  it.effect("an unknown name fails with UnknownVerifierError listing the known ones", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(verify("1", "1").pipe(Effect.provide(Verifier.byName("nope"))))
      expect(error).toBeInstanceOf(UnknownVerifierError)
      expect(error._tag).toBe("UnknownVerifierError")
      expect(error.message).toBe('unknown verifier "nope"; known: math, gsm8k, exact, format')
    }))
})
