import { beforeAll, describe, expect, it } from "vitest"
import fc from "fast-check"
import * as tf from "@tensorflow/tfjs-core"
import { InvalidArgumentError } from "@duet/core"
import { Aggregation, Normaliser } from "../src/index.js"
import { expectClose, f32Tol, maskOf, useCpu, values } from "./support.js"

fc.configureGlobal({ seed: 42 })
beforeAll(useCpu)

describe("aggregations: REFERENCE.md's check (lengths 3 and 5, T = 8, A = +-0.70710578, L = -A)", () => {
  const A = 0.70710578
  // row 0 has A = +A (L = -A on its 3 tokens), row 1 has A = -A (L = +A on its 5 tokens); padding holds junk
  const L = () => tf.tensor2d([[-A, -A, -A, 9, 9, 9, 9, 9], [A, A, A, A, A, -7, -7, -7]])
  const M = () => maskOf([3, 5], 8)
  // sums of <= 8 float32 products of magnitude <= 8 A
  const tol = f32Tol(10, 8 * A)
  const cases: Array<[string, Aggregation.Aggregation, number]> = [
    ["token-mean", Aggregation.tokenMean, 0.17677644],
    ["seq-mean-token-sum", Aggregation.seqMeanTokenSum, 0.70710578],
    ["seq-mean-token-mean", Aggregation.seqMeanTokenMean, 0],
    ["seq-mean-token-sum-norm", Aggregation.seqMeanTokenSumNorm(), 0.08838822]
  ]
  for (const [name, agg, expected] of cases) {
    it(`${name} = ${expected}`, () => {
      const v = tf.tidy(() => agg(L(), M()).dataSync()[0]!)
      expect(Math.abs(v - expected)).toBeLessThanOrEqual(tol)
    })
    it(`${name}: the full-batch normaliser gives the same value`, () => {
      const v = tf.tidy(() => agg(L(), M(), Normaliser.fromMask(M())).dataSync()[0]!)
      expect(Math.abs(v - expected)).toBeLessThanOrEqual(tol)
    })
  }
  it("seqMeanTokenSumNorm(maxLen) divides by B * maxLen (a fixed generation budget)", () => {
    const v = tf.tidy(() => Aggregation.seqMeanTokenSumNorm(16)(L(), M()).dataSync()[0]!)
    expect(Math.abs(v - 0.08838822 / 2)).toBeLessThanOrEqual(tol)
  })
})

describe("aggregations with a normaliser on a subset of rows", () => {
  it("equal the full batch when the dropped rows' loss is 0 (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((T) =>
          fc.array(
            fc.record({
              len: fc.integer({ min: 0, max: T }),
              zero: fc.boolean(),
              row: fc.array(fc.double({ min: -4, max: 4, noNaN: true }), { minLength: T, maxLength: T })
            }),
            { minLength: 1, maxLength: 6 }
          ).map((rows) => ({ T, rows }))
        ),
        ({ T, rows }) => {
          fc.pre(rows.some((r) => r.len > 0))
          const full = rows.map((r) => (r.zero ? r.row.map(() => 0) : r.row))
          const kept = rows.map((r, i) => [r, i] as const).filter(([r]) => !r.zero).map(([, i]) => i)
          const lengths = rows.map((r) => r.len)
          const aggs = [Aggregation.tokenMean, Aggregation.seqMeanTokenMean, Aggregation.seqMeanTokenSum, Aggregation.seqMeanTokenSumNorm()]
          for (const agg of aggs) {
            tf.tidy(() => {
              const norm = Normaliser.fromLengths(lengths, T)
              const a = agg(tf.tensor2d(full, [rows.length, T]), maskOf(lengths, T)).dataSync()[0]!
              if (kept.length === 0) return
              const b = agg(
                tf.tensor2d(kept.map((i) => full[i]!), [kept.length, T]),
                maskOf(kept.map((i) => lengths[i]!), T),
                norm
              ).dataSync()[0]!
              // two float32 sums of <= 36 terms of size <= 4
              expectClose([b], [a], f32Tol(40, 4 * 36))
            })
          }
        }
      ),
      { numRuns: 60 }
    )
  })
  it("refuses a normaliser that counts fewer rows than given, and mismatched shapes", () => {
    tf.tidy(() => {
      const L = tf.zeros([3, 2]) as tf.Tensor2D
      expect(() => Aggregation.tokenMean(L, tf.ones([3, 2]), { totalRows: 2, totalTokens: 4, maxLen: 2 })).toThrow(/totalRows/)
      expect(() => Aggregation.tokenMean(L, tf.ones([3, 3]))).toThrow(InvalidArgumentError)
    })
  })
})

describe("Normaliser", () => {
  it("counts tokens, rows and padded width of a mask", () => {
    const mask = maskOf([3, 5], 8)
    const n = Normaliser.fromMask(mask)
    mask.dispose()
    expect(n).toEqual({ totalTokens: 8, totalRows: 2, maxLen: 8 })
    expect(Normaliser.fromLengths([3, 5], 8)).toEqual(n)
  })
  it("rejects non-binary masks and impossible counts", () => {
    const bad = tf.tensor2d([[1, 0.5]])
    expect(() => Normaliser.fromMask(bad)).toThrow(/mask\[0\]\[1\]/)
    bad.dispose()
    expect(() => Normaliser.make({ totalTokens: 9, totalRows: 1, maxLen: 8 })).toThrow(/totalTokens/)
    expect(() => Normaliser.fromLengths([3, 9], 8)).toThrow(/lengths\[1\]/)
  })
  it("a row with no tokens contributes 0 to seq-mean-token-mean (no NaN)", () => {
    const v = tf.tidy(() => Aggregation.seqMeanTokenMean(tf.tensor2d([[2, 2], [5, 5]]), maskOf([2, 0], 2)).dataSync()[0]!)
    expect(v).toBe(1)
  })
})
