import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Rng } from "../src/index.js"

const draws = (r: Rng, n: number) => Array.from({ length: n }, () => r.nextUint32())

describe("Rng", () => {
  it("is reproducible: same seed, same stream (pinned values guard cross-run stability)", () => {
    expect(draws(Rng.seeded(42), 5)).toEqual(draws(Rng.seeded(42), 5))
    expect(draws(Rng.seeded(42), 3)).toMatchInlineSnapshot(`
      [
        2837322924,
        544945897,
        479756282,
      ]
    `)
  })
  it("different seeds give different streams", () => {
    expect(draws(Rng.seeded(1), 4)).not.toEqual(draws(Rng.seeded(2), 4))
  })
  it("split children are independent of later parent use and of each other", () => {
    const a = Rng.seeded(7)
    const b = Rng.seeded(7)
    const ca = a.split()
    const cb = b.split()
    a.nextUint32()
    expect(draws(ca, 4)).toEqual(draws(cb, 4))
    expect(draws(a.split(), 4)).not.toEqual(draws(Rng.seeded(7).split(), 4))
  })
  it("fold does not advance the parent and is keyed", () => {
    const r = Rng.seeded(3)
    const before = r.state()
    const f1 = draws(r.fold(1), 3)
    expect(r.state()).toEqual(before)
    expect(draws(r.fold(1), 3)).toEqual(f1)
    expect(draws(r.fold(2), 3)).not.toEqual(f1)
  })
  it("state round-trips", () => {
    const r = Rng.seeded(9)
    r.float()
    const copy = Rng.fromState(r.state())
    expect(draws(copy, 5)).toEqual(draws(r, 5))
  })
  it("float is in [0,1) and int in [0,n) (property)", () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 1000 }), (seed, n) => {
        const r = Rng.seeded(seed)
        for (let i = 0; i < 20; i++) {
          const f = r.float()
          expect(f >= 0 && f < 1).toBe(true)
          const k = r.int(n)
          expect(Number.isInteger(k) && k >= 0 && k < n).toBe(true)
        }
      }),
      { seed: 42 }
    )
  })
  it("uniform mean is within a Hoeffding bound (n=20000, delta=1e-6)", () => {
    const r = Rng.seeded(123)
    const n = 20000
    let sum = 0
    for (let i = 0; i < n; i++) sum += r.float()
    // Hoeffding for [0,1] variables: t = sqrt(ln(2/delta) / (2n))
    const t = Math.sqrt(Math.log(2 / 1e-6) / (2 * n))
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(t)
  })
  it("categorical frequencies follow the weights within a Hoeffding bound", () => {
    const r = Rng.seeded(5)
    const w = [1, 2, 7]
    const n = 30000
    const counts = [0, 0, 0]
    for (let i = 0; i < n; i++) counts[r.categorical(w)]!++
    const t = Math.sqrt(Math.log(2 / 1e-6) / (2 * n))
    w.forEach((wi, i) => expect(Math.abs(counts[i]! / n - wi / 10)).toBeLessThan(t))
  })
  it("shuffle is a permutation", () => {
    const xs = Rng.seeded(1).shuffle(Array.from({ length: 50 }, (_, i) => i))
    expect([...xs].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })
  it("rejects bad arguments", () => {
    expect(() => Rng.seeded(Number.NaN)).toThrow(RangeError)
    expect(() => Rng.seeded(1).int(0)).toThrow(RangeError)
    expect(() => Rng.fromState([1, 2, 3])).toThrow(RangeError)
  })
})
