import { describe, expect, it } from "vitest"
import { MathAnswer } from "../src/index.js"
import { type CaseClass, gradingCases } from "./fixtures/MathVerifyCases.js"

const classes: ReadonlyArray<CaseClass> = [
  "identical",
  "number formats",
  "relations and equations",
  "sets, intervals and inequalities",
  "matrices, roots, ratios, text",
  "extraction"
]

describe("agreement with Math-Verify's verdicts (issue 12 classes)", () => {
  it("covers every class with right and must-be-wrong cases", () => {
    for (const cls of classes) {
      const rows = gradingCases.filter((c) => c.cls === cls)
      expect(rows.filter((c) => c.expected).length, cls).toBeGreaterThanOrEqual(10)
      expect(rows.filter((c) => !c.expected).length, cls).toBeGreaterThanOrEqual(8)
    }
    expect(gradingCases.every((c) => classes.includes(c.cls))).toBe(true)
  })

  for (const cls of classes) {
    describe(cls, () => {
      it.each(gradingCases.filter((c) => c.cls === cls))("gold $gold, pred $pred -> $expected", ({ gold, pred, expected }) => {
        const r = MathAnswer.check(pred, gold)
        expect(r.correct, `extracted ${r.extracted}, rule ${r.rule}`).toBe(expected)
      })
    })
  }
})

describe("strict (default) and relaxed grading", () => {
  it.each([
    ["$2x$", "$2y$"],
    ["$f(x) = x^2$", "$f(t) = t^2$"],
    ["$\\{1, 3\\}$", "$(3, 1)$"],
    ["$\\{1, 2, 3\\}$", "$(1, 2, 3)$"],
    ["$a + b = 10$", "$10$"]
  ])("gold %s, pred %s: wrong by default, right when relaxed", (gold, pred) => {
    expect(MathAnswer.check(pred, gold).correct).toBe(false)
    expect(MathAnswer.check(pred, gold, { relaxed: true }).correct).toBe(true)
  })

  it.each([
    ["$2x$", "$3y$"],
    ["$\\{1, 3\\}$", "$(3, 2)$"],
    ["$a + b = 10$", "$11$"],
    ["$x^2 + y$", "$x + y^2$"]
  ])("gold %s, pred %s: wrong in both modes", (gold, pred) => {
    expect(MathAnswer.check(pred, gold).correct).toBe(false)
    expect(MathAnswer.check(pred, gold, { relaxed: true }).correct).toBe(false)
  })
})

describe("explanations (duet verify --explain)", () => {
  it.each([
    ["The answer is $\\boxed{\\frac{2}{4}}$.", "0.5", true, "\\frac{2}{4}", "0.5", "exact rational value"],
    ["So $x = \\boxed{3}$.", "The solution ends with #### 3", true, "3", "3", "same cleaned text"],
    ["$9x^2 + 4y^2 = 36$", "$\\frac{x^2}{4} + \\frac{y^2}{9} = 1$", true, "9x^2 + 4y^2 = 36", "$\\frac{x^2}{4} + \\frac{y^2}{9} = 1$", "equation: proportional sides"],
    ["$-2 \\le x \\le 7$", "$[-2, 7]$", true, "-2 \\le x \\le 7", "$[-2, 7]$", "inequality as interval"],
    ["\\boxed{7}", "8", false, "7", "8", "exact rational value"]
  ])("%s against %s", (completion, gold, correct, extracted, goldRead, rule) => {
    const r = MathAnswer.check(completion, gold)
    expect(r).toMatchObject({ correct, extracted, gold: goldRead, rule })
  })
})

describe("per-row timeout", () => {
  it("grades a comparison that outruns its deadline wrong, with the reason", () => {
    // 0 ms: the first clock reading inside the evaluator is already past the deadline.
    const heavy = "\\boxed{" + Array.from({ length: 40 }, (_, k) => `(x+${k})^{3}`).join("+") + "}"
    const gold = Array.from({ length: 40 }, (_, k) => `(x+${k})^{3}`).reverse().join("+")
    expect(MathAnswer.check(heavy, gold).correct).toBe(true)
    const r = MathAnswer.check(heavy, gold, { timeoutMs: 0 })
    expect(r).toMatchObject({ correct: false, rule: "timeout", reason: "timeout (boxed)" })
  })
})
