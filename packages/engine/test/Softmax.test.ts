import fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { Engine, tf } from "../src/index.js"
import { gamma, randomData, u32 } from "./Reference.js"
import { blasPaths } from "./Paths.js"

/**
 * Softmax gradient dx = y (dy - s), s = sum_j dy_j y_j, checked in float64 from the float32 y the
 * forward produced (so only the gradient is under test). s carries at most gamma(C) sum|dy y|, the
 * subtraction and product 2u each: |dx - ref| <= |y| (gamma(C + 2) sum|dy y| + 2u |dy - s|).
 */
const check = (shape: number[], seed: number, stock: boolean): string[] => {
  const C = shape[shape.length - 1]!
  const n = shape.reduce((a, b) => a * b, 1)
  const x = randomData(n, seed).map((v) => 3 * v)
  const w = randomData(n, seed + 1)
  const before = tf.memory().numTensors
  const X = tf.tensor(x, shape)
  const W = tf.tensor(w, shape)
  const run = () => {
    const y = tf.softmax(X)
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(W, tf.softmax(t))))(X)
    return [y, g] as const
  }
  const [y, g] = stock ? Engine.withStockKernels(run) : run()
  const yd = y.dataSync()
  const gd = g.dataSync()
  const bad: string[] = []
  for (let r = 0; r < n / C; r++) {
    let s = 0
    let sAbs = 0
    for (let c = 0; c < C; c++) {
      s += w[r * C + c]! * yd[r * C + c]!
      sAbs += Math.abs(w[r * C + c]! * yd[r * C + c]!)
    }
    for (let c = 0; c < C; c++) {
      const i = r * C + c
      const want = yd[i]! * (w[i]! - s)
      const tol = Math.abs(yd[i]!) * (gamma(C + 2) * sAbs + 2 * u32 * Math.abs(w[i]! - s))
      if (!(Math.abs(gd[i]! - want) <= tol) && bad.length < 3) bad.push(`[${i}] got ${gd[i]} want ${want} tol ${tol}`)
    }
  }
  tf.dispose([X, W, y, g])
  expect(tf.memory().numTensors).toBe(before)
  return bad
}

for (const blas of blasPaths()) {
  describe(`Softmax gradient (${blas})`, () => {
    beforeAll(async () => {
      await Engine.init({ backend: "wasm", blas })
    })

    it("fused gradient and the stock formula are within the derived bound", () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 }), fc.nat(), (shape, seed) => {
          expect(check(shape, seed, false)).toEqual([])
          expect(check(shape, seed, true)).toEqual([])
        }),
        { seed: 42, numRuns: 80 }
      )
    })

    it("worked example: softmax([0, 0]) = [0.5, 0.5]; with dy = [1, 0] the gradient is [0.25, -0.25]", () => {
      const x = tf.tensor1d([0, 0])
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.tensor1d([1, 0]), tf.softmax(t))))(x)
      // y (dy - s) with s = 0.5: [0.5 * 0.5, 0.5 * -0.5]
      expect(Array.from(g.dataSync())).toEqual([0.25, -0.25])
      tf.dispose([x, g])
    })
  })
}
