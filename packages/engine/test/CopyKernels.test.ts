import fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { AdamW, Engine, tf } from "../src/index.js"
import { randomData } from "./Reference.js"
import { blasPaths } from "./Paths.js"

const gatherCase = fc
  .record({
    shape: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }),
    idxShape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 2 }),
    axisPick: fc.nat(),
    negativeAxis: fc.boolean(),
    int: fc.boolean(),
    seed: fc.nat()
  })
  .map((c) => ({ ...c, axis: c.axisPick % c.shape.length }))

for (const blas of blasPaths()) {
  describe(`GatherV2, Identity and Transpose (${blas})`, () => {
    beforeAll(async () => {
      await Engine.init({ backend: "wasm", blas })
    })

    it("Transpose equals the stock kernel bit for bit (float32 and int32, rank 1-5, any permutation)", () => {
      const transposeCase = fc
        .array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 5 })
        .chain((shape) => fc.record({ shape: fc.constant(shape), perm: fc.shuffledSubarray(shape.map((_, i) => i), { minLength: shape.length, maxLength: shape.length }), int: fc.boolean(), seed: fc.nat() }))
      fc.assert(
        fc.property(transposeCase, ({ shape, perm, int, seed }) => {
          const n = shape.reduce((a, b) => a * b, 1)
          const data = randomData(n, seed)
          const x = int ? tf.tensor(Int32Array.from(data, (v) => Math.round(v * 1000)), shape, "int32") : tf.tensor(data, shape)
          const got = tf.transpose(x, perm)
          const want = Engine.withStockKernels(() => tf.transpose(x, perm))
          expect(got.shape).toEqual(want.shape)
          expect(Buffer.from(got.dataSync().buffer).equals(Buffer.from(want.dataSync().buffer))).toBe(true)
          tf.dispose([x, got, want])
        }),
        { seed: 3, numRuns: 120 }
      )
      // attention's head split at a real size, and an empty tensor
      const x = tf.tensor(randomData(8 * 15 * 4 * 32, 1), [8, 15, 4, 32])
      const e = tf.zeros([0, 3])
      const [a, b] = [tf.transpose(x, [0, 2, 1, 3]), Engine.withStockKernels(() => tf.transpose(x, [0, 2, 1, 3]))]
      expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()))
      expect(tf.transpose(e).shape).toEqual([3, 0])
      tf.dispose([x, e, a, b])
    })

    it("GatherV2 equals the stock kernel bit for bit (float32 and int32, any axis, nd indices)", () => {
      fc.assert(
        fc.property(gatherCase, ({ shape, idxShape, axis, negativeAxis, int, seed }) => {
          const n = shape.reduce((a, b) => a * b, 1)
          const data = randomData(n, seed)
          const before = tf.memory().numTensors
          const x = int ? tf.tensor(Int32Array.from(data, (v) => Math.round(v * 1000)), shape, "int32") : tf.tensor(data, shape)
          const m = idxShape.reduce((a, b) => a * b, 1)
          const idx = tf.tensor(Int32Array.from({ length: m }, (_, i) => (i * 7 + seed) % shape[axis]!), idxShape, "int32")
          const ax = negativeAxis ? axis - shape.length : axis
          const got = tf.gather(x, idx, ax)
          const want = Engine.withStockKernels(() => tf.gather(x, idx, ax))
          expect(got.shape).toEqual(want.shape)
          expect(got.dtype).toBe(x.dtype)
          expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()))
          tf.dispose([x, idx, got, want])
          expect(tf.memory().numTensors).toBe(before)
        }),
        { seed: 42, numRuns: 100 }
      )
    })

    it("GatherV2 rejects an index out of range, without leaking", () => {
      const x = tf.zeros([3, 2])
      const idx = tf.tensor1d([0, 3], "int32")
      const before = tf.memory().numTensors
      expect(() => tf.gather(x, idx)).toThrow(/index value 3 is not in \[0, 2\]/)
      expect(tf.memory().numTensors).toBe(before)
      tf.dispose([x, idx])
    })

    it("Identity (tf.clone) shares the buffer, and an in-place AdamW step leaves a clone intact", () => {
      const p = tf.variable(tf.tensor2d([[1, 2, 3]]), true, `clone-${blas}.weight`)
      const snapshot = tf.clone(p)
      expect(Array.from(snapshot.dataSync())).toEqual([1, 2, 3])
      const params = new Map([[`clone.weight`, p]])
      const state = AdamW.init(params)
      const g = tf.tensor2d([[1, -1, 1]])
      AdamW.apply(params, new Map([[`clone.weight`, g]]), state, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: null })
      expect(Array.from(snapshot.dataSync())).toEqual([1, 2, 3])
      const after = Array.from(p.dataSync())
      expect(after[0]).toBeCloseTo(0.9, 6)
      expect(after[1]).toBeCloseTo(2.1, 6)
      tf.dispose([p, snapshot, g])
      AdamW.dispose(state)
    })
  })
}
