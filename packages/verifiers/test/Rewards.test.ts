import { InvalidArgumentError } from "@duet/core"
import { describe, expect, it } from "vitest"
import { ExactMatch, FormatReward, Gsm8k } from "../src/index.js"

describe("Gsm8k.goldAnswer", () => {
  it.each([
    ["Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72", "72"],
    ["... #### 1,234", "1234"],
    ["#### -5", "-5"],
    ["#### $ 12", "12"],
    ["42", "42"],
    ["first #### 3\nthen #### 4", "4"]
  ])("%j -> %j", (field, gold) => {
    expect(Gsm8k.goldAnswer(field)).toBe(gold)
  })

  it("fails naming the field when nothing follows ####", () => {
    expect(() => Gsm8k.goldAnswer("work... ####  ")).toThrow(InvalidArgumentError)
    expect(() => Gsm8k.goldAnswer("work... ####")).toThrow(/answer: no GSM8K answer/)
  })
})

describe("Gsm8k.check", () => {
  const gold = "She pays 3*6 = <<3*6=18>>18 dollars.\n#### 18"
  it.each([
    ["Janet pays 3 * 6 = 18 dollars.\n#### 18", true],
    ["The answer is $18.00.", true],
    ["So she pays \\boxed{18} dollars.", true],
    ["She pays 18 dollars.", true],
    ["#### 17", false],
    ["I am not sure.", false]
  ])("%j -> %j", (completion, correct) => {
    expect(Gsm8k.check(completion, gold).correct).toBe(correct)
  })

  it("strict reads only #### N (verl method=strict); flexible reads the last number", () => {
    expect(Gsm8k.extract("The answer is 18.", { method: "strict" })).toBeNull()
    expect(Gsm8k.extract("so #### 1,234 and 5", { method: "strict" })).toBe("1234")
    expect(Gsm8k.extract("The answer is 18, not 17.", { method: "flexible" })).toBe("17")
    expect(Gsm8k.extract("The answer is 18, not 17.")).toBe("18")
    expect(Gsm8k.check("#### 18.0", "18", { method: "strict" }).correct).toBe(true)
  })
})

describe("ExactMatch.check", () => {
  it.each([
    ["Paris", "Paris", {}, true],
    ["  Paris \n", "Paris", {}, true],
    ["The answer is \\boxed{Paris}", "Paris", {}, true],
    ["paris", "Paris", {}, false],
    ["paris", "Paris", { caseSensitive: false }, true],
    ["New   York", "New York", {}, true],
    ["1/2", "0.5", {}, false],
    ["\\boxed{Paris}", "Paris", { extract: false }, false]
  ] as const)("%j vs %j %j -> %j", (completion, gold, options, correct) => {
    expect(ExactMatch.check(completion, gold, options).correct).toBe(correct)
  })
})

describe("FormatReward.check", () => {
  it.each([
    ["so \\boxed{5}", 1, "5"],
    ["Reasoning...\nAnswer: 5", 1, "5"],
    ["Reasoning...\n**Answer:** 5", 1, "5"],
    ["Reasoning...\n#### 5", 1, "5"],
    ["the answer is 5", 0, null],
    ["\\boxed{}", 0, null],
    ["\\boxed{5", 0, null]
  ] as const)("%j -> %j", (completion, reward, matched) => {
    expect(FormatReward.check(completion)).toEqual({ reward, matched })
  })

  it("takes a custom pattern (flags g/y dropped, so repeated calls agree)", () => {
    const pattern = /<answer>.*<\/answer>/gs
    const text = "<think>hm</think><answer>4</answer>"
    expect(FormatReward.check(text, { pattern })).toEqual({ reward: 1, matched: "<answer>4</answer>" })
    expect(FormatReward.check(text, { pattern }).reward).toBe(1)
    expect(FormatReward.check("<answer>4", { pattern }).reward).toBe(0)
  })
})
