import { describe, expect, it } from "vitest"
import { GoldAnswer } from "../src/index.js"

describe("GoldAnswer", () => {
  it("reads GSM8K's #### line and drops thousands separators", () => {
    expect(GoldAnswer.afterHashes("work\n#### 72")).toBe("72")
    expect(GoldAnswer.afterHashes("#### 1,200")).toBe("1200")
    expect(GoldAnswer.afterHashes("#### 7,425,000")).toBe("7425000")
    expect(GoldAnswer.afterHashes("#### -3")).toBe("-3")
    expect(GoldAnswer.afterHashes("#### 3,5")).toBe("3,5") // not a thousands separator
    expect(GoldAnswer.afterHashes("a #### 1\n#### 2")).toBe("2")
    expect(GoldAnswer.afterHashes("no answer")).toBeUndefined()
    expect(GoldAnswer.afterHashes("#### ")).toBeUndefined()
    expect(GoldAnswer.beforeHashes("step one\n#### 4")).toBe("step one")
  })

  it("reads the last \\boxed{} with balanced braces", () => {
    expect(GoldAnswer.lastBoxed("so $\\boxed{5}$")).toBe("5")
    expect(GoldAnswer.lastBoxed("\\boxed{1} then \\boxed{\\frac{3}{4}}")).toBe("\\frac{3}{4}")
    expect(GoldAnswer.lastBoxed("\\boxed{\\{-1, 1\\}}")).toBe("\\{-1, 1\\}")
    expect(GoldAnswer.lastBoxed("\\fbox{x+1}")).toBe("x+1")
    expect(GoldAnswer.lastBoxed("$\\boxed 7$")).toBe("7")
    expect(GoldAnswer.lastBoxed("\\boxed{6")).toBeUndefined()
    expect(GoldAnswer.lastBoxed("\\boxed{}")).toBeUndefined()
    expect(GoldAnswer.lastBoxed("nothing")).toBeUndefined()
  })
})
