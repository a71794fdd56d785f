import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { MathAnswer } from "../src/index.js"
import { cases } from "./fixtures/EquivalenceCases.js"

fc.configureGlobal({ seed: 42, numRuns: 200 })

describe("MathAnswer.equivalent on real-looking pairs", () => {
  it("has a broad table with many negatives", () => {
    expect(cases.length).toBeGreaterThanOrEqual(150)
    expect(cases.filter((k) => !k.equal).length).toBeGreaterThanOrEqual(50)
  })

  it.each(cases)("$pred vs $gold -> $equal ($note)", ({ pred, gold, equal }) => {
    expect(MathAnswer.equivalent(pred, gold)).toBe(equal)
    // Symmetric: the verdict does not depend on which side is the gold, except for equations
    // (Math-Verify's rule: a gold equation is read as its value only when it names a variable).
    if (!`${pred}${gold}`.includes("=")) expect(MathAnswer.equivalent(gold, pred)).toBe(equal)
  })
})

describe("MathAnswer.extract", () => {
  const table: ReadonlyArray<readonly [string, string | null]> = [
    ["The answer is $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"],
    ["So $x = \\boxed{\\frac{1}{\\sqrt{2}}}$ and we are done.", "\\frac{1}{\\sqrt{2}}"],
    ["First \\boxed{3}, then correcting: \\boxed{4}.", "4"],
    ["\\fbox{7}", "7"],
    ["Hence \\boxed 5", "5"],
    ["\\boxed{\\{1,2\\}}", "\\{1,2\\}"],
    ["\\boxed{3} but then \\boxed{4", "3"],
    ["The final answer is $42$. I hope it is correct.", "42"],
    ["Final Answer: The final answer is $\\boxed{5}$. I hope it is correct.", "5"],
    ["**Final Answer:** 12", "12"],
    ["So the final answer is 7.\nDouble-checking the arithmetic gives the same.", "7"],
    ["the final answer is 5? Wait, that is wrong. Redo: \\boxed{6}", "6"],
    ["Answer: 18 apples", "18 apples"],
    ["**Answer:** $\\frac{3}{4}$", "\\frac{3}{4}"],
    ["The answer is \\(\\frac{3}{4}\\).", "\\frac{3}{4}"],
    ["The answer is 5, which is odd.", "5"],
    ["The answer is $18.50.", "18.50"],
    ["Natalia sold 48/2 = 24 clips in May.\nAltogether 48+24 = 72 clips.\n#### 72", "72"],
    ["#### 1,234", "1,234"],
    ["so 3 + 4 = 7.", "7"],
    ["We have 1,234,567 people.", "1,234,567"],
    ["The temperature is -5.", "-5"],
    ["From 10-3 we get", "3"],
    ["three quarters, 3/4 of them", "3/4"],
    ["The point is (1,2)", "2"],
    ["a share of 12%", "12%"],
    ["The solutions are $\\boxed{2}$ and $\\boxed{3}$.", "2, 3"],
    ["x = \\boxed{-1}, \\boxed{4}", "-1, 4"],
    ["\\boxed{5}\n\nSo the answer is \\boxed{5}", "5"],
    ["Part (a): \\boxed{1}. Part (b): \\boxed{2}", "2"],
    ["The answer is:\n\n$$\\frac{1}{2}$$", "\\frac{1}{2}"],
    ["The answer is not obvious until we expand everything, which gives 14 in the end", "14"],
    ["The answer is Tuesday.", "Tuesday"],
    ["The ratio is therefore $\\frac{2}{3}$.", "\\frac{2}{3}"],
    ["So $x = \\frac{1}{2}$", "x = \\frac{1}{2}"],
    ["We get 5 for $x$.", "5"],
    ["It costs $5 and $6 in total", "6"],
    ["√2", "√2"],
    ["2π", "2π"],
    ["x ≤ 3", "x ≤ 3"],
    ["3 + 4 = 7", "3 + 4 = 7"],
    ["There is no number here.", null],
    ["", null],
    ["\\boxed{}", null]
  ]
  it.each(table)("%j -> %j", (completion, expected) => {
    expect(MathAnswer.extract(completion)).toBe(expected)
  })

  it("reports where the answer came from", () => {
    expect(MathAnswer.extractWithSource("so \\boxed{2}")?.source).toBe("boxed")
    expect(MathAnswer.extractWithSource("The final answer is 3.")?.source).toBe("final-answer")
    expect(MathAnswer.extractWithSource("Answer: 4")?.source).toBe("answer-phrase")
    expect(MathAnswer.extractWithSource("it is 5")?.source).toBe("last-number")
    expect(MathAnswer.extractWithSource("it is $\\sqrt{5}$")?.source).toBe("last-math")
  })

  it("searches only the last maxScanChars characters", () => {
    const text = `\\boxed{1} ${"x".repeat(500)}`
    expect(MathAnswer.extract(text)).toBe("1")
    expect(MathAnswer.extract(text, { maxScanChars: 100 })).toBeNull()
  })

  it("finds a box appended to arbitrary text", () => {
    const prose = fc.string({ unit: "grapheme-ascii", maxLength: 300 }).filter((s) => !/[\\{}]|answer/i.test(s))
    fc.assert(
      fc.property(prose, fc.integer({ min: -1_000_000, max: 1_000_000 }), (text, n) => {
        expect(MathAnswer.extract(`${text} so the result is \\boxed{${n}}`)).toBe(String(n))
        expect(MathAnswer.check(`${text} \\boxed{${n}}`, String(n)).correct).toBe(true)
      })
    )
  })
})

describe("MathAnswer.check", () => {
  const table: ReadonlyArray<readonly [string, string, boolean]> = [
    ["Thus the area is $\\boxed{12\\text{ cm}^2}$.", "12", true],
    ["The final answer is $\\boxed{\\dfrac{1}{2}}$. I hope it is correct.", "0.5", true],
    ["Therefore $x = \\boxed{-3}$.", "-3", true],
    ["The answer is 72.", "72", true],
    ["She has 71.5 left. The answer is 71.5", "72", false],
    ["#### 1,200", "1200", true],
    ["so the answer is $\\boxed{(1, 2)}$", "(2, 1)", false],
    ["\\boxed{[0,1)}", "[0,1]", false],
    ["We find \\boxed{\\text{(C)}}", "C", true],
    ["Nothing to see.", "3", false],
    // Full completions in the styles models write.
    [
      "Let the width be $w$. Then the length is $2w$, so $2(w + 2w) = 36$, giving $w = 6$.\n\nThe area is $6 \\cdot 12 = 72$.\n\nTherefore, the final answer is $\\boxed{72}$.",
      "72",
      true
    ],
    [
      "<think>\nWe need x^2 = 16... so x = 4? But x can be negative too.\n</think>\n\nThe solutions are $x = \\pm 4$.\n\n**Final Answer**\n\\[\n\\boxed{\\pm 4}\n\\]",
      "-4, 4",
      true
    ],
    [
      "Janet's ducks lay 16 eggs per day. She eats 3 and bakes with 4, so she sells 16 - 3 - 4 = <<16-3-4=9>>9 eggs.\nShe makes 9 * $2 = $<<9*2=18>>18 every day.\n#### 18",
      "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18 every day at the farmer's market.\n#### 18",
      true
    ],
    ["Minerva style.\nFinal Answer: The final answer is $\\frac{\\sqrt{3}}{2}$. I hope it is correct.", "\\frac{\\sqrt3}{2}", true],
    ["So the interval is $\\boxed{(-\\infty, 2] \\cup [5, \\infty)}$.", "(-\\infty,2]\\cup[5,\\infty)", true],
    ["So the interval is $\\boxed{(-\\infty, 2) \\cup [5, \\infty)}$.", "(-\\infty,2]\\cup[5,\\infty)", false],
    ["The vector is $\\boxed{\\begin{pmatrix} 3 \\\\ -1 \\end{pmatrix}}$.", "\\begin{pmatrix}3\\\\-1\\end{pmatrix}", true],
    ["The probability is $\\boxed{\\dfrac{5}{12}}$", "\\frac{5}{12}", true],
    ["The probability is $\\boxed{\\dfrac{5}{12}}$", "\\frac{7}{12}", false],
    ["The answer is $\\boxed{\\text{(B)}}$", "B", true],
    ["The answer is $\\boxed{\\text{(B)}}$", "C", false],
    ["Therefore, the answer is $\\boxed{1,\\!000,\\!000}$.", "1000000", true],
    ["so she has \\$\\boxed{12.50} left", "12.5", true]
  ]
  it.each(table)("%j vs %j -> %j", (completion, gold, correct) => {
    const r = MathAnswer.check(completion, gold)
    expect(r.correct).toBe(correct)
  })

  it("explains a missing answer", () => {
    expect(MathAnswer.check("There is no number anywhere in this reply.", "3")).toEqual({
      correct: false,
      extracted: null,
      reason: "no answer found",
      gold: "3",
      rule: "no answer"
    })
  })
})

describe("MathAnswer.normalize", () => {
  it.each([
    ["\\dfrac{2}{4}", "1/2"],
    ["7,425,000", "7425000"],
    ["0.50", "1/2"],
    ["025", "25"],
    ["\\frac{\\sqrt{2}}{2}", "sqrt(2)/2"],
    ["\\left( 1, 2 \\right)", "(1, 2)"],
    ["[0, 1)", "[0, 1)"],
    ["\\{1,2\\}", "{1, 2}"],
    ["\\text{Tuesday}", "tuesday"],
    ["x = 5", "x = 5"],
    ["50\\%", "50%"],
    ["30^\\circ", "30"],
    ["\\sin 30^\\circ", "sin(30°)"]
  ])("%j -> %j", (input, out) => {
    expect(MathAnswer.normalize(input)).toBe(out)
  })
})

describe("MathAnswer properties", () => {
  const rational = fc.tuple(fc.integer({ min: -2000, max: 2000 }), fc.integer({ min: 1, max: 60 }))
  const formats = (p: number, q: number): Array<string> => {
    const sign = p < 0 ? "-" : ""
    const a = Math.abs(p)
    const out = [`\\frac{${p}}{${q}}`, `${p}/${q}`, `${sign}\\dfrac{${a}}{${q}}`, `\\left(\\frac{${p}}{${q}}\\right)`,
      `$\\frac{${p}}{${q}}$`, `\\boxed{${p}/${q}}`, `\\frac{${2 * p}}{${2 * q}}`]
    // Terminating decimals (q = 2^i 5^j) also have an exact decimal form.
    let r = q
    while (r % 2 === 0) r /= 2
    while (r % 5 === 0) r /= 5
    if (r === 1) out.push(String(p / q))
    if (p % q === 0) out.push(String(p / q), `${p / q}.0`)
    return out
  }

  it("is reflexive on formatted numbers", () => {
    fc.assert(
      fc.property(rational, ([p, q]) => {
        for (const s of formats(p, q)) expect(MathAnswer.equivalent(s, s)).toBe(true)
      })
    )
  })

  it("agrees across formatting variants of one value", () => {
    fc.assert(
      fc.property(rational, ([p, q]) => {
        const fs = formats(p, q)
        for (const a of fs) expect(MathAnswer.equivalent(a, fs[0]!)).toBe(true)
      })
    )
  })

  it("is symmetric on random pairs (equal and unequal)", () => {
    const small = fc.tuple(fc.integer({ min: -6, max: 6 }), fc.integer({ min: 1, max: 4 }))
    fc.assert(
      fc.property(small, small, fc.nat(20), fc.nat(20), ([p1, q1], [p2, q2], i, j) => {
        const f1 = formats(p1, q1)
        const f2 = formats(p2, q2)
        const a = f1[i % f1.length]!
        const b = f2[j % f2.length]!
        const ab = MathAnswer.equivalent(a, b)
        expect(MathAnswer.equivalent(b, a)).toBe(ab)
        expect(ab).toBe(p1 * q2 === p2 * q1)
      })
    )
  })

  it("formats integers in every accepted way", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1000, max: 99_999_999 }), (n) => {
        const grouped = n.toLocaleString("en-US")
        for (const s of [grouped, `\\$${grouped}`, `${n}.00`, `${n} dollars`, `x = ${n}`, `0${n}`, `${n}\\text{ cm}`]) {
          expect(MathAnswer.equivalent(s, String(n))).toBe(true)
        }
        expect(MathAnswer.equivalent(grouped, String(n + 1))).toBe(false)
      })
    )
  })

  it("tells distinct integers apart", () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer(), (a, b) => {
        expect(MathAnswer.equivalent(String(a), String(b))).toBe(a === b)
      })
    )
  })

  it("never throws on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), fc.string({ maxLength: 40 }), (a, b) => {
        expect(typeof MathAnswer.equivalent(a, b)).toBe("boolean")
        expect(typeof MathAnswer.check(a, b).correct).toBe("boolean")
        expect(typeof MathAnswer.normalize(a)).toBe("string")
      })
    )
  })
})

describe("MathAnswer options", () => {
  it("uses math-verify's 6-decimal rule by default and takes another tolerance", () => {
    // |3.1416 - pi| = 7.3e-6: above 5e-7, below the 1e-4 relative tolerance of prime_math.
    expect(MathAnswer.equivalent("3.1416", "\\pi")).toBe(false)
    expect(MathAnswer.equivalent("3.1416", "\\pi", { tolerance: { absolute: 0, relative: 1e-4 } })).toBe(true)
    // 1000050 vs 1000000 differs by 5e-5 relative: integers compare exactly whatever the tolerance.
    expect(MathAnswer.equivalent("1000050", "1000000", { tolerance: { absolute: 0, relative: 1e-4 } })).toBe(false)
  })

  it("answers false once a comparison exceeds its work budget", () => {
    expect(MathAnswer.equivalent("10!", "3628800")).toBe(true)
    expect(MathAnswer.equivalent("10!", "3628800", { budget: 5 })).toBe(false)
  })
})
