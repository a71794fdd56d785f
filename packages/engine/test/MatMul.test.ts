import fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { Engine, tf } from "../src/index.js"
import { broadcastShape, matMulReference, outsideBound, randomData, size, type MatMulCase } from "./Reference.js"
import { blasPaths, matmulOf } from "./Paths.js"

/** Batch shapes of A and B that broadcast: suffixes of one output batch, some dims set to 1. */
const caseArb = (dim: fc.Arbitrary<number>): fc.Arbitrary<MatMulCase> =>
  fc
    .record({
      outBatch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
      aKeep: fc.integer({ min: 0, max: 2 }),
      bKeep: fc.integer({ min: 0, max: 2 }),
      aOnes: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
      bOnes: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
      M: dim,
      N: dim,
      K: dim,
      transposeA: fc.boolean(),
      transposeB: fc.boolean()
    })
    .map(({ outBatch, aKeep, bKeep, aOnes, bOnes, M, N, K, transposeA, transposeB }) => {
      const batchOf = (keep: number, ones: boolean[]) =>
        outBatch.slice(outBatch.length - Math.min(keep, outBatch.length)).map((d, i) => (ones[i] ? 1 : d))
      const aB = batchOf(aKeep, aOnes)
      const bB = batchOf(bKeep, bOnes)
      return {
        aShape: [...aB, transposeA ? K : M, transposeA ? M : K],
        bShape: [...bB, transposeB ? N : K, transposeB ? K : N],
        transposeA,
        transposeB
      }
    })

const small = fc.integer({ min: 1, max: 9 })
// Up to 48: crosses the JS path's XNNPACK-per-batch threshold (M*N*K >= 16384).
const medium = fc.integer({ min: 12, max: 48 })

const check = (c: MatMulCase, seed: number) => {
  const outB = broadcastShape(c.aShape.slice(0, -2), c.bShape.slice(0, -2))
  const a = randomData(size(c.aShape), seed)
  const b = randomData(size(c.bShape), seed + 1)
  const ar = c.aShape.length
  const br = c.bShape.length
  const M = c.transposeA ? c.aShape[ar - 1]! : c.aShape[ar - 2]!
  const N = c.transposeB ? c.bShape[br - 2]! : c.bShape[br - 1]!
  const w = randomData(size(outB) * M * N, seed + 2)
  const ref = matMulReference(c, a, b, w)
  const before = tf.memory().numTensors
  const A = tf.tensor(a, c.aShape)
  const B = tf.tensor(b, c.bShape)
  const W = tf.tensor(w, ref.outShape)
  const mm = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, c.transposeA, c.transposeB)
  const loss = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(W, mm(x, y)))
  const out = mm(A, B)
  const [da, db] = tf.grads(loss)([A, B])
  // Stock: the gradient of a broadcast matMul throws in tfjs-core 4.22, so broadcast explicitly.
  const fullA = [...outB, ...c.aShape.slice(-2)]
  const fullB = [...outB, ...c.bShape.slice(-2)]
  // Stock wasm loops over max(batchA, batchB) entries, so it is only right when each operand's
  // batch is the whole output batch or 1; a general broadcast ([3] with [3, 1]) is compared with
  // the reference alone.
  const batch = size(outB)
  const full = (shape: number[]) => [batch, 1].includes(size(shape.slice(0, -2)))
  const stockDefined = full(c.aShape) && full(c.bShape)
  const stock = Engine.withStockKernels(() => {
    const o = mm(A, B)
    const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => loss(tf.broadcastTo(x, fullA), tf.broadcastTo(y, fullB)))([A, B])
    return [o, ...g]
  })
  const results = {
    out: outsideBound(out.dataSync(), ref.out, ref.outAbs, ref.outTerms),
    da: outsideBound(da!.dataSync(), ref.da, ref.daAbs, ref.daTerms),
    db: outsideBound(db!.dataSync(), ref.db, ref.dbAbs, ref.dbTerms),
    stockOut: stockDefined ? outsideBound(stock[0]!.dataSync(), ref.out, ref.outAbs, ref.outTerms) : [],
    stockDa: outsideBound(stock[1]!.dataSync(), ref.da, ref.daAbs, ref.daTerms),
    stockDb: outsideBound(stock[2]!.dataSync(), ref.db, ref.dbAbs, ref.dbTerms)
  }
  expect(out.shape).toEqual(ref.outShape)
  expect(da!.shape).toEqual(c.aShape)
  expect(db!.shape).toEqual(c.bShape)
  tf.dispose([A, B, W, out, da!, db!, ...stock])
  expect(results).toEqual({ out: [], da: [], db: [], stockOut: [], stockDa: [], stockDb: [] })
  expect(tf.memory().numTensors).toBe(before)
}

for (const blas of blasPaths()) {
  describe(`BatchMatMul (${blas})`, () => {
    beforeAll(async () => {
      const info = await Engine.init({ backend: "wasm", blas })
      expect(info.matmul).toBe(matmulOf(blas))
    })

    it("matches a float64 reference and the stock kernel: values and gradients, small shapes", () => {
      fc.assert(
        fc.property(caseArb(small), fc.nat(), (c, seed) => check(c, seed)),
        { seed: 42, numRuns: 150 }
      )
    })

    it("the same on shapes past the folding and XNNPACK-per-batch thresholds", () => {
      fc.assert(
        fc.property(caseArb(medium), fc.nat(), (c, seed) => check(c, seed)),
        { seed: 7, numRuns: 25 }
      )
    })

    it("worked example: [[1,2],[3,4]] x [[5,6],[7,8]]^T and its broadcast batch", () => {
      const a = tf.tensor([1, 2, 3, 4], [1, 2, 2])
      const b = tf.tensor([5, 6, 7, 8, 1, 0, 0, 1], [2, 2, 2])
      const c = tf.matMul(a, b, false, true)
      // batch 0: [1,2]·[5,6]=17, [1,2]·[7,8]=23, [3,4]·[5,6]=39, [3,4]·[7,8]=53; batch 1: B = I
      expect(Array.from(c.dataSync())).toEqual([17, 23, 39, 53, 1, 2, 3, 4])
      expect(c.shape).toEqual([2, 2, 2])
      tf.dispose([a, b, c])
    })

    it.skipIf(blas !== "js")("the same on GEMMs past the wasm kernel's blocks (K > 256, N > 512, M and N off the 4x8 tile)", () => {
      const dims = fc.record({ M: fc.integer({ min: 1, max: 20 }), N: fc.integer({ min: 500, max: 530 }), K: fc.integer({ min: 250, max: 530 }) })
      fc.assert(
        fc.property(dims, fc.boolean(), fc.boolean(), fc.nat(), ({ M, N, K }, ta, tb, seed) =>
          check({ aShape: ta ? [K, M] : [M, K], bShape: tb ? [N, K] : [K, N], transposeA: ta, transposeB: tb }, seed)
        ),
        { seed: 11, numRuns: 4 }
      )
    })

    // Gradients on 2-D operands only: tfjs's own fused-matMul gradient does not reduce a broadcast batch.
    it("tf.fused.matMul with a bias gives matMul then add, bit for bit, and the same gradients", () => {
      const dims = fc.record({ M: fc.integer({ min: 1, max: 40 }), N: fc.integer({ min: 1, max: 40 }), K: fc.integer({ min: 1, max: 40 }), batch: fc.integer({ min: 0, max: 2 }) })
      fc.assert(
        fc.property(dims, fc.boolean(), fc.boolean(), fc.nat(), ({ M, N, K, batch }, ta, tb, seed) => {
          const lead = batch === 0 ? [] : [batch]
          const a = tf.tensor(randomData(size([...lead, M, K]), seed), [...lead, ...(ta ? [K, M] : [M, K])])
          const b = tf.tensor(randomData(K * N, seed + 1), tb ? [N, K] : [K, N])
          const bias = tf.tensor1d(randomData(N, seed + 2))
          const bits = (t: tf.Tensor) => Buffer.from((t.dataSync() as Float32Array).slice().buffer).toString("hex")
          const fused = tf.fused.matMul({ a, b, bias, transposeA: ta, transposeB: tb })
          const plain = tf.add(tf.matMul(a, b, ta, tb), bias)
          expect(fused.shape).toEqual(plain.shape)
          expect(bits(fused)).toBe(bits(plain))
          if (batch > 0) {
            tf.dispose([a, b, bias, fused, plain])
            return
          }
          const loss = (f: (x: tf.Tensor, w: tf.Tensor, c: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, w: tf.Tensor, c: tf.Tensor) => tf.sum(tf.square(f(x, w, c)))
          const gFused = tf.grads(loss((x, w, c) => tf.fused.matMul({ a: x, b: w, bias: c, transposeA: ta, transposeB: tb })))([a, b, bias])
          const gPlain = tf.grads(loss((x, w, c) => tf.add(tf.matMul(x, w, ta, tb), c)))([a, b, bias])
          gFused.forEach((g, i) => expect(bits(g)).toBe(bits(gPlain[i]!)))
          tf.dispose([a, b, bias, fused, plain, ...gFused, ...gPlain])
        }),
        { seed: 5, numRuns: 30 }
      )
    })

    it("K = 0 gives zeros", () => {
      const a = tf.zeros([3, 0])
      const b = tf.zeros([0, 2])
      const c = tf.matMul(a, b)
      expect(Array.from(c.dataSync())).toEqual([0, 0, 0, 0, 0, 0])
      tf.dispose([a, b, c])
    })
  })
}
