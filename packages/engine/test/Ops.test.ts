import fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { Engine, Ops, tf } from "../src/index.js"
import { gamma, randomData, u32 } from "./Reference.js"
import { blasPaths } from "./Paths.js"

/**
 * GELU bound: y = x s(a(x)). exp's polynomial and range reduction cost a few ulp, the other ~6
 * float ops one each, and computing a(x) with relative error <= 3u perturbs exp(-a) relatively by
 * 3u|a|; so |dy| <= (16 + 4|a|) u |y| covers it (and the same factor on each term of the gradient).
 * Where exp(-a) overflows float32 (a < -88) implementations saturate s at ~2^-127 instead of its
 * true value, hence the absolute floor |x| 2^-126 (and |dy| (1 + |x a'|) 2^-126 on the gradient).
 */
const geluRef = (x: number, form: Ops.GeluForm) => {
  const a = form === "sigmoid" ? 1.702 * x : 1.5957691216057308 * (x + 0.044715 * x ** 3)
  const da = form === "sigmoid" ? 1.702 : 1.5957691216057308 * (1 + 3 * 0.044715 * x * x)
  const s = 1 / (1 + Math.exp(-a))
  return { y: x * s, dydx: s + x * s * (1 - s) * da, a, dydxAbs: s + Math.abs(x * s * (1 - s) * da), xda: Math.abs(x * da) }
}

const checkGelu = (form: Ops.GeluForm, n: number, seed: number) => {
  const x = randomData(n, seed).map((v) => 3 * v)
  const w = randomData(n, seed + 1)
  const before = tf.memory().numTensors
  const X = tf.tensor1d(x)
  const W = tf.tensor1d(w)
  const y = Ops.gelu(X, form)
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(W, Ops.gelu(t, form))))(X)
  const yd = y.dataSync()
  const gd = g.dataSync()
  const bad: string[] = []
  for (let i = 0; i < n; i++) {
    const r = geluRef(x[i]!, form)
    const k = (16 + 4 * Math.abs(r.a)) * u32
    const floor = 2 ** -126
    if (!(Math.abs(yd[i]! - r.y) <= k * Math.abs(r.y) + Math.abs(x[i]!) * floor)) bad.push(`y[${i}] x=${x[i]} got ${yd[i]} want ${r.y}`)
    const gTol = Math.abs(w[i]!) * (k * r.dydxAbs + (1 + r.xda) * floor)
    if (!(Math.abs(gd[i]! - w[i]! * r.dydx) <= gTol)) bad.push(`dx[${i}] x=${x[i]} got ${gd[i]} want ${w[i]! * r.dydx}`)
  }
  tf.dispose([X, W, y, g])
  expect(tf.memory().numTensors).toBe(before)
  return bad.slice(0, 5)
}

/** Float64 LayerNorm with the error scales of the bound below. */
const lnRef = (x: Float32Array, rows: number, C: number, g: Float32Array, b: Float32Array | undefined, dy: Float32Array, eps: number) => {
  const y = new Float64Array(rows * C)
  const dx = new Float64Array(rows * C)
  const dg = new Float64Array(C)
  const db = new Float64Array(C)
  const yTol = new Float64Array(rows * C)
  const dxTol = new Float64Array(rows * C)
  const dgTol = new Float64Array(C)
  const dbTol = new Float64Array(C)
  const k = gamma(2 * C + 16)
  for (let r = 0; r < rows; r++) {
    const xs = Array.from(x.subarray(r * C, (r + 1) * C))
    const mean = xs.reduce((a, c) => a + c, 0) / C
    const variance = xs.reduce((a, c) => a + (c - mean) ** 2, 0) / C
    const rstd = 1 / Math.sqrt(variance + eps)
    // Relative error of xhat from float32 sums: the data's magnitude over its spread.
    const cond = (Math.max(...xs.map(Math.abs)) + Math.abs(mean)) * rstd
    const xhat = xs.map((v) => (v - mean) * rstd)
    const gs = xhat.map((_, c) => dy[r * C + c]! * g[c]!)
    const mg = gs.reduce((a, c) => a + c, 0) / C
    const mgx = gs.reduce((a, c, i) => a + c * xhat[i]!, 0) / C
    const mgAbs = gs.reduce((a, c) => a + Math.abs(c), 0) / C
    const mgxAbs = gs.reduce((a, c, i) => a + Math.abs(c * xhat[i]!), 0) / C
    for (let c = 0; c < C; c++) {
      const i = r * C + c
      y[i] = xhat[c]! * g[c]! + (b ? b[c]! : 0)
      yTol[i] = k * (Math.abs(g[c]!) * cond + (b ? Math.abs(b[c]!) : 0))
      dx[i] = rstd * (gs[c]! - mg - xhat[c]! * mgx)
      dxTol[i] = k * cond * rstd * (Math.abs(gs[c]!) + mgAbs + Math.abs(xhat[c]!) * mgxAbs)
      dg[c]! += dy[i]! * xhat[c]!
      dgTol[c]! += Math.abs(dy[i]!) * cond
      db[c]! += dy[i]!
      dbTol[c]! += Math.abs(dy[i]!)
    }
  }
  for (let c = 0; c < C; c++) {
    dgTol[c] = gamma(rows + 2 * C + 16) * dgTol[c]!
    dbTol[c] = gamma(rows + 4) * dbTol[c]!
  }
  return { y, dx, dg, db, yTol, dxTol, dgTol, dbTol }
}

const within = (name: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: ArrayLike<number>): string[] => {
  const bad: string[] = []
  for (let i = 0; i < want.length && bad.length < 3; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= tol[i]!)) bad.push(`${name}[${i}] got ${got[i]} want ${want[i]} tol ${tol[i]}`)
  }
  return bad
}

const checkLayerNorm = (lead: number[], C: number, withBeta: boolean, shift: number, seed: number) => {
  const rows = lead.reduce((a, b) => a * b, 1)
  const x = randomData(rows * C, seed).map((v, i) => v + shift * ((i % 3) - 1))
  const g = randomData(C, seed + 1)
  const b = withBeta ? randomData(C, seed + 2) : undefined
  const dy = randomData(rows * C, seed + 3)
  const eps = 1e-5
  const ref = lnRef(x, rows, C, g, b, dy, eps)
  const before = tf.memory().numTensors
  const X = tf.tensor(x, [...lead, C])
  const G = tf.tensor1d(g)
  const Bt = b === undefined ? undefined : tf.tensor1d(b)
  const DY = tf.tensor(dy, [...lead, C])
  const y = Ops.layerNorm(X, G, Bt, eps)
  const f = (xx: tf.Tensor, gg: tf.Tensor, bb?: tf.Tensor) => tf.sum(tf.mul(DY, Ops.layerNorm(xx, gg as tf.Tensor1D, bb as tf.Tensor1D | undefined, eps)))
  const grads = Bt === undefined ? tf.grads((xx: tf.Tensor, gg: tf.Tensor) => f(xx, gg))([X, G]) : tf.grads(f)([X, G, Bt])
  expect(y.shape).toEqual([...lead, C])
  const bad = [
    ...within("y", y.dataSync(), ref.y, ref.yTol),
    ...within("dx", grads[0]!.dataSync(), ref.dx, ref.dxTol),
    ...within("dgamma", grads[1]!.dataSync(), ref.dg, ref.dgTol),
    ...(grads[2] ? within("dbeta", grads[2].dataSync(), ref.db, ref.dbTol) : [])
  ]
  tf.dispose([X, G, DY, y, ...grads, ...(Bt ? [Bt] : [])])
  expect(tf.memory().numTensors).toBe(before)
  return bad
}

const lnCase = fc.record({
  lead: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 2 }),
  C: fc.integer({ min: 1, max: 40 }),
  withBeta: fc.boolean(),
  shift: fc.constantFrom(0, 1, 3),
  seed: fc.nat()
})

const paths: Array<{ label: string; init: () => Promise<unknown>; fused: { gelu: boolean; layerNorm: boolean } }> = [
  ...blasPaths().map((blas) => ({
    label: `wasm ${blas}`,
    init: () => Engine.init({ backend: "wasm", blas }),
    fused: { gelu: blas !== "xnnpack", layerNorm: true }
  })),
  { label: "cpu (composite)", init: () => Engine.init({ backend: "cpu" }), fused: { gelu: false, layerNorm: false } }
]

for (const path of paths) {
  describe(`Ops on ${path.label}`, () => {
    beforeAll(async () => {
      await path.init()
    })

    it("runs the fused kernels it should", () => {
      expect(Ops.fused()).toEqual(path.fused)
    })

    it("gelu (both forms) and its gradient are within the derived bound of float64", () => {
      fc.assert(
        fc.property(fc.constantFrom<Ops.GeluForm>("tanh", "sigmoid"), fc.integer({ min: 1, max: 300 }), fc.nat(), (form, n, seed) => {
          expect(checkGelu(form, n, seed)).toEqual([])
        }),
        { seed: 42, numRuns: 40 }
      )
    })

    it("gelu worked values: gelu(0) = 0, tanh-gelu(1) = 0.8411920, sigmoid-gelu(1) = 0.8457957", () => {
      const x = tf.tensor1d([0, 1])
      const t = Ops.gelu(x, "tanh").dataSync()
      const s = Ops.gelu(x, "sigmoid").dataSync()
      // 0.5 (1 + tanh(sqrt(2/pi) 1.044715)) = 0.841192; 1 / (1 + e^-1.702) = 0.845796
      expect(t[0]).toBe(0)
      expect(t[1]).toBeCloseTo(0.841192, 6)
      expect(s[1]).toBeCloseTo(0.8457957, 6)
      x.dispose()
    })

    it("layerNorm and its gradients in x, gamma, beta are within the derived bound of float64", () => {
      fc.assert(
        fc.property(lnCase, ({ lead, C, withBeta, shift, seed }) => {
          expect(checkLayerNorm(lead, C, withBeta, shift, seed)).toEqual([])
        }),
        { seed: 42, numRuns: 60 }
      )
    })

    it("layerNorm worked example: [1, 2, 3] -> [-1.2247, 0, 1.2247] (eps 0)", () => {
      const y = Ops.layerNorm(tf.tensor2d([[1, 2, 3]]), tf.ones([3]) as tf.Tensor1D, tf.zeros([3]) as tf.Tensor1D, 0)
      const d = Array.from(y.dataSync())
      // mean 2, biased variance 2/3, so (x - 2) / sqrt(2/3) = -+1.2247449
      expect(d[0]).toBeCloseTo(-1.2247449, 6)
      expect(d[1]).toBeCloseTo(0, 6)
      expect(d[2]).toBeCloseTo(1.2247449, 6)
      y.dispose()
    })

    it("rejects a gamma of the wrong length", () => {
      const x = tf.zeros([2, 3])
      expect(() => Ops.layerNorm(x, tf.ones([4]) as tf.Tensor1D, undefined)).toThrow(/gamma shape \[4\] must be \[3\]/)
      x.dispose()
    })
  })
}
