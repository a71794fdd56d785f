import fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { Engine, tf } from "../src/index.js"
import { outsideBound, randomData, size } from "./Reference.js"
import { blasPaths } from "./Paths.js"

/** Float64 sum of x (shape) over `axes`, with the absolute sums and the term count. */
const sumReference = (x: Float32Array, shape: number[], axes: number[]) => {
  const keep = shape.map((_, i) => !axes.includes(i))
  const outShape = shape.filter((_, i) => keep[i])
  const out = new Float64Array(size(outShape))
  const abs = new Float64Array(out.length)
  const idx = new Array<number>(shape.length).fill(0)
  for (let i = 0; i < x.length; i++) {
    let o = 0
    for (let d = 0; d < shape.length; d++) if (keep[d]) o = o * shape[d]! + idx[d]!
    out[o]! += x[i]!
    abs[o]! += Math.abs(x[i]!)
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break
      idx[d] = 0
    }
  }
  return { out, abs, outShape, terms: size(axes.map((a) => shape[a]!)) }
}

const sumCase = fc
  .array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 })
  .chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      axes: fc.subarray(shape.map((_, i) => i), { minLength: 1 }),
      keepDims: fc.boolean(),
      negative: fc.boolean()
    })
  )

for (const blas of blasPaths()) {
  describe(`Sum and UnsortedSegmentSum (${blas})`, () => {
    beforeAll(async () => {
      await Engine.init({ backend: "wasm", blas })
    })

    it("Sum over any axes matches a float64 reference and the stock kernel", () => {
      fc.assert(
        fc.property(sumCase, fc.nat(), ({ shape, axes, keepDims, negative }, seed) => {
          const x = randomData(size(shape), seed)
          const ref = sumReference(x, shape, axes)
          const before = tf.memory().numTensors
          const t = tf.tensor(x, shape)
          const axisArg = negative ? axes.map((a) => a - shape.length) : axes
          const got = tf.sum(t, axisArg, keepDims)
          const stock = Engine.withStockKernels(() => tf.sum(t, axisArg, keepDims))
          const want = keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : ref.outShape
          expect(got.shape).toEqual(want)
          expect(outsideBound(got.dataSync(), ref.out, ref.abs, ref.terms)).toEqual([])
          expect(outsideBound(stock.dataSync(), ref.out, ref.abs, ref.terms)).toEqual([])
          tf.dispose([t, got, stock])
          expect(tf.memory().numTensors).toBe(before)
        }),
        { seed: 42, numRuns: 150 }
      )
    })

    it("gradient of a broadcast add (bias), which sums dy over the leading axes", () => {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }),
          fc.integer({ min: 1, max: 7 }),
          fc.nat(),
          (lead, C, seed) => {
            const shape = [...lead, C]
            const w = randomData(size(shape), seed)
            const before = tf.memory().numTensors
            const W = tf.tensor(w, shape)
            const x = tf.zeros(shape)
            const bias = tf.zeros([C])
            const f = (b: tf.Tensor) => tf.sum(tf.mul(W, tf.add(x, b)))
            const g = tf.grad(f)(bias)
            const gs = Engine.withStockKernels(() => tf.grad(f)(bias))
            const ref = sumReference(w, shape, lead.map((_, i) => i))
            expect(outsideBound(g.dataSync(), ref.out, ref.abs, ref.terms)).toEqual([])
            expect(outsideBound(gs.dataSync(), ref.out, ref.abs, ref.terms)).toEqual([])
            tf.dispose([W, x, bias, g, gs])
            expect(tf.memory().numTensors).toBe(before)
          }
        ),
        { seed: 42, numRuns: 60 }
      )
    })

    it("UnsortedSegmentSum worked example, out-of-range ids dropped", () => {
      const x = tf.tensor([1, 2, 3, 4, 5, 6, 7, 8], [4, 2])
      const ids = tf.tensor1d([2, 0, 2, 5], "int32")
      const out = tf.unsortedSegmentSum(x, ids, 3)
      // segment 0: row 1 = [3,4]; segment 1: none; segment 2: rows 0 and 2 = [1+5, 2+6]; id 5 dropped
      expect(Array.from(out.dataSync())).toEqual([3, 4, 0, 0, 6, 8])
      const xi = tf.tensor([1, 2, 3], [3], "int32")
      const outI = tf.unsortedSegmentSum(xi, tf.tensor1d([1, 1, 0], "int32"), 2)
      expect(outI.dtype).toBe("int32")
      expect(Array.from(outI.dataSync())).toEqual([3, 3])
      tf.dispose([x, ids, out, xi, outI])
    })

    it("gather's gradient (UnsortedSegmentSum) matches a float64 scatter-add", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 9 }),
          fc.integer({ min: 1, max: 6 }),
          fc.array(fc.nat(), { minLength: 1, maxLength: 20 }),
          fc.nat(),
          (V, C, rawIds, seed) => {
            const ids = rawIds.map((i) => i % V)
            const w = randomData(ids.length * C, seed)
            const ref = new Float64Array(V * C)
            const abs = new Float64Array(V * C)
            ids.forEach((id, r) => {
              for (let c = 0; c < C; c++) {
                ref[id * C + c]! += w[r * C + c]!
                abs[id * C + c]! += Math.abs(w[r * C + c]!)
              }
            })
            const before = tf.memory().numTensors
            const table = tf.tensor(randomData(V * C, seed + 1), [V, C])
            const I = tf.tensor1d(ids, "int32")
            const W = tf.tensor(w, [ids.length, C])
            const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(W, tf.gather(t, I))))(table)
            expect(g.shape).toEqual([V, C])
            expect(outsideBound(g.dataSync(), ref, abs, ids.length)).toEqual([])
            tf.dispose([table, I, W, g])
            expect(tf.memory().numTensors).toBe(before)
          }
        ),
        { seed: 42, numRuns: 80 }
      )
    })

    it("UnsortedSegmentSum over rank-2 ids and int32 data matches a reference", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 5 }),
          fc.integer({ min: 1, max: 6 }),
          fc.nat(),
          (R, S, inner, numSegments, seed) => {
            const rawIds = Array.from(randomData(R * S, seed), (v) => Math.floor(v * 3) % (numSegments + 2)) // some < 0 or >= n
            const xs = Array.from({ length: R * S * inner }, (_, i) => ((i * 7 + seed) % 11) - 5)
            const ref = new Array<number>(numSegments * inner).fill(0)
            rawIds.forEach((id, r) => {
              if (id < 0 || id >= numSegments) return
              for (let j = 0; j < inner; j++) ref[id * inner + j]! += xs[r * inner + j]!
            })
            const x = tf.tensor(xs, [R, S, inner], "int32")
            const ids = tf.tensor(rawIds, [R, S], "int32")
            const out = tf.unsortedSegmentSum(x, ids as tf.Tensor1D, numSegments) // the op types ids as 1-D; the kernel takes any rank
            expect(out.shape).toEqual([numSegments, inner])
            expect(Array.from(out.dataSync())).toEqual(ref)
            tf.dispose([x, ids, out])
          }
        ),
        { seed: 42, numRuns: 60 }
      )
    })
  })
}
