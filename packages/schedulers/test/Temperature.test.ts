import { describe, expect, it } from "vitest"
import { Temperature } from "../src/index.js"

describe("Temperature", () => {
  it("constant returns its value at every step", () => {
    const t = Temperature.constant(0.7)
    expect([t(0), t(5), t(1e6)]).toEqual([0.7, 0.7, 0.7])
  })
  it("linear interpolates then holds the end value", () => {
    const t = Temperature.linear({ start: 1, end: 0.5, steps: 10 })
    expect(t(0)).toBe(1)
    expect(t(5)).toBe(0.75)
    expect(t(10)).toBe(0.5)
    expect(t(99)).toBe(0.5)
  })
  it("rejects negative temperatures and zero-length ramps", () => {
    expect(() => Temperature.constant(-0.1)).toThrow(/temperature/)
    expect(() => Temperature.linear({ start: 1, end: 0.5, steps: 0 })).toThrow(/steps/)
  })
})
