import { describe, expect, it } from "vitest"
import { Partition } from "../src/index.js"

describe("Partition", () => {
  it("hash32 is FNV-1a then fmix32: worked values", () => {
    // FNV-1a("") = 0x811c9dc5 and FNV-1a("a") = 0xe40c292c (published test vectors), then
    // murmur3 fmix32 of each, computed by hand below.
    const fmix = (h: number) => {
      h ^= h >>> 16
      h = Math.imul(h, 0x85ebca6b)
      h ^= h >>> 13
      h = Math.imul(h, 0xc2b2ae35)
      h ^= h >>> 16
      return h >>> 0
    }
    expect(Partition.hash32("")).toBe(fmix(0x811c9dc5))
    expect(Partition.hash32("a")).toBe(fmix(0xe40c292c))
    expect(Partition.hash32("foobar")).toBe(fmix(0xbf9cf968))
  })

  it("puts about testShare of many keys on the test side (Hoeffding) and depends on the salt", () => {
    // n = 20000 keys, delta = 1e-6: |share - 0.2| <= sqrt(ln(2e6) / 40000) = 0.0190.
    const p = Partition.make(0.2, "salt")
    const q = Partition.make(0.2, "other")
    let test = 0
    let agree = 0
    const n = 20000
    for (let i = 0; i < n; i++) {
      const k = `${i}+${i % 97}=`
      if (Partition.sideOf(p, k) === "test") test++
      if (Partition.sideOf(p, k) === Partition.sideOf(q, k)) agree++
    }
    const bound = Math.sqrt(Math.log(2e6) / (2 * n))
    expect(Math.abs(test / n - 0.2)).toBeLessThanOrEqual(bound)
    // Independent salts agree with probability 0.2^2 + 0.8^2 = 0.68.
    expect(Math.abs(agree / n - 0.68)).toBeLessThanOrEqual(bound)
  })

  it("rejects a share outside (0, 1)", () => {
    expect(() => Partition.make(0, "s")).toThrow(/testShare/)
    expect(() => Partition.make(Number.NaN, "s")).toThrow(/testShare/)
  })
})
