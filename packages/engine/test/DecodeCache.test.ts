import fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { DecodeCache, Engine, tf } from "../src/index.js"
import { gamma, randomData, u32 } from "./Reference.js"
import { blasPaths } from "./Paths.js"

/**
 * Float64 model of the cache and of softmax(scale q K^T) V. Bound per output element: scores carry
 * an error <= gamma(hd) scale sum|q K| each, which moves softmax weights relatively by at most twice
 * the largest such error; the weighted sum adds gamma(position + 1), exp and division ~8u; so
 * |out - ref| <= sum_t p_t |V_t| (gamma(position + 1) + 8u + 2 max_t ds_t).
 */
const attendRef = (K: Float64Array, V: Float64Array, q: Float32Array, b: number, h: number, H: number, cap: number, hd: number, position: number, scale: number) => {
  const base = (b * H + h) * cap * hd
  const s: number[] = []
  let ds = 0
  for (let t = 0; t <= position; t++) {
    let dot = 0
    let abs = 0
    for (let d = 0; d < hd; d++) {
      dot += q[d]! * K[base + t * hd + d]!
      abs += Math.abs(q[d]! * K[base + t * hd + d]!)
    }
    s.push(dot * scale)
    ds = Math.max(ds, gamma(hd) * Math.abs(scale) * abs)
  }
  const mx = Math.max(...s)
  const e = s.map((x) => Math.exp(x - mx))
  const total = e.reduce((a, c) => a + c, 0)
  const out = new Float64Array(hd)
  const tol = new Float64Array(hd)
  for (let t = 0; t <= position; t++) {
    const p = e[t]! / total
    for (let d = 0; d < hd; d++) {
      out[d]! += p * V[base + t * hd + d]!
      tol[d]! += p * Math.abs(V[base + t * hd + d]!)
    }
  }
  for (let d = 0; d < hd; d++) tol[d] = tol[d]! * (gamma(position + 1) + 8 * u32 + 2 * ds) + 1e-30
  return { out, tol }
}

const caseArb = fc.record({
  batch: fc.integer({ min: 1, max: 5 }),
  H: fc.integer({ min: 1, max: 3 }),
  // 16, 32, 64, 128: the native path's vector loops; others its plain loop
  hd: fc.oneof(fc.integer({ min: 1, max: 17 }), fc.constantFrom(32, 64, 128)),
  capacity: fc.integer({ min: 2, max: 12 }),
  prefillLen: fc.integer({ min: 0, max: 4 }),
  scaled: fc.boolean(),
  drops: fc.array(fc.nat(), { maxLength: 12 }),
  seed: fc.nat()
})

type Case = typeof caseArb extends fc.Arbitrary<infer A> ? A : never

const check = (c: Case) => {
  const { batch, H, hd, capacity, scaled, drops, seed } = c
  const T = Math.min(c.prefillLen, capacity - 1)
  const C = H * hd
  const layers = 2
  const scale = scaled ? 1 / Math.sqrt(hd) : 1
  const cache = DecodeCache.make({ layers, batch, heads: H, headDim: hd, capacity, ...(scaled ? { scale } : {}) })
  const refK = Array.from({ length: layers }, () => new Float64Array(batch * H * capacity * hd))
  const refV = Array.from({ length: layers }, () => new Float64Array(batch * H * capacity * hd))
  const before = tf.memory().numTensors
  let s = seed
  if (T > 0) {
    for (let l = 0; l < layers; l++) {
      const k = randomData(batch * H * T * hd, s++)
      const v = randomData(batch * H * T * hd, s++)
      const kt = tf.tensor4d(k, [batch, H, T, hd])
      const vt = tf.tensor4d(v, [batch, H, T, hd])
      cache.prefill(l, kt, vt)
      tf.dispose([kt, vt])
      for (let bh = 0; bh < batch * H; bh++) {
        for (let i = 0; i < T * hd; i++) {
          refK[l]![bh * capacity * hd + i] = k[bh * T * hd + i]!
          refV[l]![bh * capacity * hd + i] = v[bh * T * hd + i]!
        }
      }
    }
  }
  // Rows step in lockstep and drop out (finish) one by one, as the sampler does.
  let rows = Array.from({ length: batch }, (_, i) => i)
  const bad: string[] = []
  for (let position = T; position < capacity && rows.length > 0; position++) {
    const N = rows.length
    for (let l = 0; l < layers; l++) {
      const q = randomData(N * C, s++)
      const k = randomData(N * C, s++)
      const v = randomData(N * C, s++)
      const [Q, Kt, Vt] = [q, k, v].map((x) => tf.tensor2d(x, [N, C])) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D]
      const out = cache.attend(l, Q, Kt, Vt, Int32Array.from(rows), position)
      expect(out.shape).toEqual([N, C])
      const got = out.dataSync()
      tf.dispose([Q, Kt, Vt, out])
      rows.forEach((b, i) => {
        for (let h = 0; h < H; h++) {
          const at = (b * H + h) * capacity * hd + position * hd
          for (let d = 0; d < hd; d++) {
            refK[l]![at + d] = k[i * C + h * hd + d]!
            refV[l]![at + d] = v[i * C + h * hd + d]!
          }
          const r = attendRef(refK[l]!, refV[l]!, q.subarray(i * C + h * hd, i * C + (h + 1) * hd), b, h, H, capacity, hd, position, scale)
          for (let d = 0; d < hd; d++) {
            const g = got[i * C + h * hd + d]!
            if (!(Math.abs(g - r.out[d]!) <= r.tol[d]!) && bad.length < 3) bad.push(`pos ${position} layer ${l} row ${b} head ${h} d ${d}: got ${g} want ${r.out[d]} tol ${r.tol[d]}`)
          }
        }
      })
    }
    const drop = drops[position] ?? 0
    if (drop % 3 === 0) rows = rows.filter((_, i) => i !== drop % rows.length)
  }
  cache.dispose()
  expect(tf.memory().numTensors).toBe(before)
  return bad
}

const paths = [
  ...blasPaths().map((blas) => ({ label: `wasm ${blas}`, init: () => Engine.init({ backend: "wasm", blas }), path: blas === "openblas" || blas === "native" ? "native" : blas === "js" ? "wasm" : "js-heap" })),
  { label: "cpu", init: () => Engine.init({ backend: "cpu" }), path: "js-copy" }
]

for (const p of paths) {
  describe(`DecodeCache on ${p.label}`, () => {
    beforeAll(async () => {
      await p.init()
    })

    it(`runs the ${p.path} path`, () => {
      const cache = DecodeCache.make({ layers: 1, batch: 1, heads: 1, headDim: 1, capacity: 1 })
      expect(cache.path).toBe(p.path)
    })

    it("matches a float64 model of the cache and attention, rows dropping out", () => {
      fc.assert(
        fc.property(caseArb, (c) => {
          expect(check(c)).toEqual([])
        }),
        { seed: 42, numRuns: 40 }
      )
    })

    it("a cache made after a disposed one (its arrays reused) reads only what it wrote", () => {
      const opts = { layers: 1, batch: 2, heads: 1, headDim: 2, capacity: 3, scale: 1 }
      const dirty = DecodeCache.make(opts)
      dirty.prefill(0, tf.fill([2, 1, 3, 2], Number.NaN) as tf.Tensor4D, tf.fill([2, 1, 3, 2], Number.NaN) as tf.Tensor4D)
      dirty.dispose()
      const cache = DecodeCache.make(opts)
      cache.prefill(0, tf.tensor4d([1, 0, 0, 1], [2, 1, 1, 2]), tf.tensor4d([2, 4, 6, 8], [2, 1, 1, 2]))
      const out = cache.attend(0, tf.tensor2d([[0, 0], [0, 0]]), tf.tensor2d([[1, 0], [0, 1]]), tf.tensor2d([[4, 6], [8, 10]]), Int32Array.of(0, 1), 1)
      // equal scores at positions 0 and 1: the mean of each row's two values
      expect(Array.from(out.dataSync())).toEqual([3, 5, 7, 9])
      cache.dispose()
    })

    it("worked example: two positions, equal scores -> mean of the values", () => {
      const cache = DecodeCache.make({ layers: 1, batch: 1, heads: 1, headDim: 2, capacity: 2 })
      const zero = tf.tensor2d([[0, 0]])
      const a = cache.attend(0, zero, tf.tensor2d([[1, 0]]), tf.tensor2d([[2, 4]]), Int32Array.of(0), 0)
      // position 0 only: out = v0
      expect(Array.from(a.dataSync())).toEqual([2, 4])
      const b = cache.attend(0, zero, tf.tensor2d([[0, 1]]), tf.tensor2d([[6, 0]]), Int32Array.of(0), 1)
      // q = 0: scores equal, weights 1/2 each: ([2,4] + [6,0]) / 2
      expect(Array.from(b.dataSync())).toEqual([4, 2])
      tf.dispose([zero, a, b])
      cache.dispose()
    })

    if (p.path === "native") {
      it("gives the same bits on 1 and 2 threads (the (row, head) pairs split over threads)", async () => {
        // 96 rows x 4 heads x 64 dims: from position 40 on, >= 2e6 multiply-adds a step, so split in two.
        const [batch, H, hd, capacity] = [96, 4, 64, 48]
        const run = async (threads: number) => {
          await Engine.init({ backend: "wasm", blas: "native", threads })
          const cache = DecodeCache.make({ layers: 1, batch, heads: H, headDim: hd, capacity })
          const rows = Int32Array.from({ length: batch }, (_, i) => i)
          let last: Float32Array = new Float32Array(0)
          for (let position = 0; position < capacity; position++) {
            const [q, k, v] = [0, 1, 2].map((i) => tf.tensor2d(randomData(batch * H * hd, 7 * position + i), [batch, H * hd])) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D]
            const out = cache.attend(0, q, k, v, rows, position)
            last = out.dataSync() as Float32Array
            tf.dispose([q, k, v, out])
          }
          cache.dispose()
          return last
        }
        const one = await run(1)
        const two = await run(2)
        await p.init()
        expect(Buffer.from(two.buffer).equals(Buffer.from(one.buffer))).toBe(true)
      })
    }

    it("rejects a position past capacity and a row outside the batch, naming the field", () => {
      const cache = DecodeCache.make({ layers: 1, batch: 2, heads: 1, headDim: 1, capacity: 2 })
      const x = tf.zeros([1, 1]) as tf.Tensor2D
      expect(() => cache.attend(0, x, x, x, Int32Array.of(0), 2)).toThrow(/^DecodeCache\.position:/)
      expect(() => cache.attend(0, x, x, x, Int32Array.of(2), 0)).toThrow(/^DecodeCache\.attend\.rows\[0\]:/)
      expect(() => DecodeCache.make({ layers: 1, batch: 0, heads: 1, headDim: 1, capacity: 1 })).toThrow(/^DecodeCache\.batch:/)
      x.dispose()
      cache.dispose()
    })
  })
}
