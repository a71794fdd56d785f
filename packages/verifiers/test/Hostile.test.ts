import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { FormatReward, Gsm8k, MathAnswer } from "../src/index.js"
import { MAX_DEPTH, MAX_NODES, parse } from "../src/internal/MathParser.js"

fc.configureGlobal({ seed: 42 })

// Each hostile input is about 1 MB. The bound is asserted by the per-test timeout (a quadratic
// scan of 1 MB would take minutes) and by the caps below, never by reading the clock.
const hostile: ReadonlyArray<readonly [string, string]> = [
  ["unclosed boxes", "\\boxed{".repeat(150_000)],
  ["many closed boxes", "\\boxed{1}".repeat(110_000)],
  ["1, repeated", "1,".repeat(500_000)],
  ["open parentheses", "(".repeat(1_000_000)],
  ["balanced parentheses", "(".repeat(500_000) + ")".repeat(500_000)],
  ["answer phrases", "the answer is ".repeat(75_000)],
  ["final-answer phrases", "final answer is ".repeat(65_000)],
  ["dollar signs", "$".repeat(1_000_000)],
  ["one long number", "9".repeat(1_000_000)],
  ["unclosed fractions", "\\frac{".repeat(170_000)],
  ["backslashes", "\\".repeat(1_000_000)],
  ["unclosed text", "\\text{".repeat(170_000)],
  ["a 1 MB box", `\\boxed{${"1+".repeat(500_000)}1}`],
  ["a deeply nested box", `\\boxed{${"{".repeat(450_000)}1${"}".repeat(450_000)}}`],
  ["Answer lines", "Answer: ".repeat(120_000)],
  ["hash marks", "#### ".repeat(200_000)],
  ["think tags", "<think></think>".repeat(66_000)],
  ["a closed think block before 1 MB of 1,", "<think>x</think>" + "1,".repeat(500_000)],
  ["spaced digits", "1 ".repeat(500_000)],
  ["unit words after a number", "5 " + "cm ".repeat(330_000)],
  ["ratio chain", "1:".repeat(500_000)],
  ["set-builder openings", "\\{x \\mid ".repeat(100_000)],
  ["decimal commas", "1,22 ".repeat(200_000)],
  ["MATH thousands groups", "1,\\! 000".repeat(120_000)],
  ["side-by-side boxes", "\\boxed{1} ".repeat(100_000)],
  ["inequality chain", "x < ".repeat(250_000)]
]

describe("hostile 1 MB completions return promptly", () => {
  it.each(hostile)("%s", { timeout: 10_000 }, (_name, text) => {
    expect(text.length).toBeGreaterThanOrEqual(900_000)
    const extracted = MathAnswer.extract(text)
    expect(extracted === null || typeof extracted === "string").toBe(true)
    expect(typeof MathAnswer.check(text, "1").correct).toBe("boolean")
    expect(typeof MathAnswer.equivalent(text, `${text}1`)).toBe("boolean")
    expect(typeof MathAnswer.normalize(text)).toBe("string")
    expect(typeof Gsm8k.check(text, "#### 1").correct).toBe("boolean")
    expect([0, 1]).toContain(FormatReward.check(text).reward)
  })

  it("reads a 1,1,1,... run as its last number, not the whole run", () => {
    expect(MathAnswer.extract("1,".repeat(500_000))).toBe("1")
  })

  it("gives up on a digit run longer than any answer", () => {
    expect(MathAnswer.extract("9".repeat(1_000_000))).toBeNull()
  })
})

describe("work caps", () => {
  it("does not parse answers longer than MAX_ANSWER_LENGTH; they only match byte for byte", () => {
    const long = "1+".repeat(MathAnswer.MAX_ANSWER_LENGTH) + "1"
    expect(MathAnswer.equivalent(long, long)).toBe(true)
    expect(MathAnswer.equivalent(long, ` ${long} `)).toBe(true)
    expect(MathAnswer.equivalent(long, String(MathAnswer.MAX_ANSWER_LENGTH + 1))).toBe(false)
  })

  it("rejects nesting deeper than MAX_DEPTH", () => {
    const nested = (d: number) => "(".repeat(d) + "1" + ")".repeat(d)
    expect(parse(nested(10))).not.toBeNull()
    expect(parse(nested(MAX_DEPTH + 1))).toBeNull()
  })

  it("rejects trees with more than MAX_NODES nodes", () => {
    const sum = (terms: number) => Array.from({ length: terms }, () => "1").join("+")
    expect(parse(sum(100))).not.toBeNull()
    expect(parse(sum(MAX_NODES))).toBeNull()
  })

  it.each([
    ["2^{2^{2^{2^{2^{2}}}}}", "2"],
    ["100000!", "1"],
    ["\\binom{1000000000}{500000000}", "1"],
    ["2^{9999999999}", "2"],
    ["10^{10^{10}}", "10"],
    ["x^{x^{x^{x^{x}}}}", "x"],
    ["\\sqrt{" .repeat(50) + "2" + "}".repeat(50), "2"]
  ])("evaluates %s against %s within the caps", { timeout: 10_000 }, (a, b) => {
    expect(MathAnswer.equivalent(a, b)).toBe(false)
    expect(MathAnswer.equivalent(a, a)).toBe(true)
  })

  it("never throws on random LaTeX-ish soup", () => {
    const soup = fc.array(
      fc.constantFrom("\\frac", "{", "}", "(", ")", "[", "]", "\\sqrt", "^", "_", "1", "2", "x", ",", "\\pi", "!", "-", "+",
        "\\boxed{", "\\left(", "\\right)", "\\{", "\\}", "=", "%", "\\cup", "\\infty", "&", "\\\\", "\\begin{pmatrix}",
        "\\end{pmatrix}", ".", " ", "\\text{", "e", "i", "|", "\\pm", "0"),
      { maxLength: 60 }
    ).map((parts) => parts.join(""))
    fc.assert(
      fc.property(soup, soup, (a, b) => {
        const ab = MathAnswer.equivalent(a, b)
        // Symmetric unless an equation is involved (a gold equation counts only as an assignment).
        if (!`${a}${b}`.includes("=")) expect(MathAnswer.equivalent(b, a)).toBe(ab)
        expect(typeof MathAnswer.check(a, b).correct).toBe("boolean")
      }),
      { numRuns: 500 }
    )
  })
})
