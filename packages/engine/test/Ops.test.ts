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

/**
 * Float64 packed causal attention and its gradients (formulas of Ops.packedAttention), with the
 * scale of each output's terms for the tolerance: |y_i| <= max_j |v_j| and the gradients by the
 * sums of absolute products.
 */
const attentionRef = (q: Float32Array, k: Float32Array, v: Float32Array, dy: Float32Array, starts: number[], H: number, hd: number) => {
  const C = H * hd
  const N = starts[starts.length - 1]!
  const y = new Float64Array(N * C)
  const dq = new Float64Array(N * C)
  const dk = new Float64Array(N * C)
  const dv = new Float64Array(N * C)
  const scale = { y: new Float64Array(N * C), dq: new Float64Array(N * C), dk: new Float64Array(N * C), dv: new Float64Array(N * C) }
  const at = (x: Float32Array | Float64Array, row: number, h: number, d: number) => x[row * C + h * hd + d]!
  const dot = (a: Float32Array, ra: number, b: Float32Array, rb: number, h: number) => {
    let s = 0
    for (let d = 0; d < hd; d++) s += at(a, ra, h, d) * at(b, rb, h, d)
    return s
  }
  for (let r = 0; r + 1 < starts.length; r++) {
    const b0 = starts[r]!
    const L = starts[r + 1]! - b0
    for (let h = 0; h < H; h++) {
      let sAbs = 0
      for (let i = 0; i < L; i++)
        for (let j = 0; j <= i; j++) {
          let a = 0
          for (let d = 0; d < hd; d++) a += Math.abs(at(q, b0 + i, h, d) * at(k, b0 + j, h, d))
          sAbs = Math.max(sAbs, a)
        }
      for (let i = 0; i < L; i++) {
        const s = Array.from({ length: i + 1 }, (_, j) => dot(q, b0 + i, k, b0 + j, h))
        const m = Math.max(...s)
        const e = s.map((x) => Math.exp(x - m))
        const z = e.reduce((a, b) => a + b, 0)
        const p = e.map((x) => x / z)
        const dp = p.map((_, j) => dot(dy, b0 + i, v, b0 + j, h))
        const D = p.reduce((a, pj, j) => a + pj * dp[j]!, 0)
        const ds = p.map((pj, j) => pj * (dp[j]! - D))
        for (let d = 0; d < hd; d++) {
          const o = (b0 + i) * C + h * hd + d
          for (let j = 0; j <= i; j++) {
            const oj = (b0 + j) * C + h * hd + d
            y[o]! += p[j]! * v[oj]!
            scale.y[o]! += p[j]! * Math.abs(v[oj]!)
            dq[o]! += ds[j]! * k[oj]!
            dk[oj]! += ds[j]! * q[o]!
            dv[oj]! += p[j]! * dy[o]!
            // a score computed with error e moves p by a factor exp(+-2e): e <= gamma_hd * sum |q k|
            const f = 1 + 2 * sAbs
            const dsAbs = p[j]! * (Math.abs(dp[j]!) + Math.abs(D)) * (1 + hd) * f
            scale.y[o]! += p[j]! * Math.abs(v[oj]!) * (f - 1)
            scale.dq[o]! += dsAbs * Math.abs(k[oj]!)
            scale.dk[oj]! += dsAbs * Math.abs(q[o]!)
            scale.dv[oj]! += p[j]! * Math.abs(dy[o]!) * f
          }
        }
      }
    }
  }
  return { y, dq, dk, dv, scale }
}

/** Ops.packedAttention's value and gradients against float64; returns the first mismatches. */
const checkAttention = (lengths: number[], H: number, hd: number, seed: number): string[] => {
  const starts = [0]
  for (const L of lengths) starts.push(starts[starts.length - 1]! + L)
  const N = starts[starts.length - 1]!
  const C = H * hd
  const [q, k, v, dy] = [0, 1, 2, 3].map((i) => randomData(N * C, seed + i).map((x) => (i < 2 ? 2 * x : x)))
  const ref = attentionRef(q!, k!, v!, dy!, starts, H, hd)
  const before = tf.memory().numTensors
  const [Q, K, V, DY] = [q!, k!, v!, dy!].map((x) => tf.tensor2d(x, [N, C]))
  const y = Ops.packedAttention(Q!, K!, V!, starts, H)
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(DY!, Ops.packedAttention(a, b, c, starts, H))))([Q!, K!, V!])
  const got = { y: y.dataSync(), dq: grads[0]!.dataSync(), dk: grads[1]!.dataSync(), dv: grads[2]!.dataSync() }
  tf.dispose([Q!, K!, V!, DY!, y, ...grads])
  expect(tf.memory().numTensors).toBe(before)
  // exp and the softmax's divisions cost a few ulp of each p; the sums over <= T terms of length hd
  const longest = Math.max(1, ...lengths)
  const k32 = gamma(4 * (longest + hd) + 32)
  const bad: string[] = []
  for (const key of ["y", "dq", "dk", "dv"] as const) {
    for (let i = 0; i < N * C; i++) {
      const want = ref[key][i]!
      if (!(Math.abs(got[key][i]! - want) <= k32 * ref.scale[key][i]! + 1e-30)) bad.push(`${key}[${i}] got ${got[key][i]} want ${want}`)
    }
  }
  return bad.slice(0, 5)
}

const attentionCase = fc.record({
  lengths: fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 5 }),
  H: fc.integer({ min: 1, max: 3 }),
  hd: fc.constantFrom(1, 5, 16, 32, 64),
  seed: fc.nat()
})

const paths: Array<{ label: string; init: () => Promise<unknown>; fused: { gelu: boolean; layerNorm: boolean; attention: boolean } }> = [
  ...blasPaths().map((blas) => ({
    label: `wasm ${blas}`,
    init: () => Engine.init({ backend: "wasm", blas }),
    fused: { gelu: blas !== "xnnpack", layerNorm: true, attention: blas === "native" || blas === "openblas" }
  })),
  { label: "cpu (composite)", init: () => Engine.init({ backend: "cpu" }), fused: { gelu: false, layerNorm: false, attention: false } }
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

    it("packedAttention and its gradients in q, k, v are within the bound of float64 (sequences of 0-20 rows)", () => {
      fc.assert(
        fc.property(attentionCase, ({ lengths, H, hd, seed }) => {
          expect(checkAttention(lengths, H, hd, seed)).toEqual([])
        }),
        { seed: 42, numRuns: 25 }
      )
    })

    it("packedAttention: a sequence's output ignores every other sequence", () => {
      const [q, k, v] = [1, 2, 3].map((s) => tf.tensor2d(randomData(7 * 8, s), [7, 8]))
      const both = Ops.packedAttention(q!, k!, v!, [0, 3, 7], 2).dataSync().slice(0, 24)
      const alone = Ops.packedAttention(tf.slice(q!, 0, 3), tf.slice(k!, 0, 3), tf.slice(v!, 0, 3), [0, 3], 2).dataSync()
      expect(Array.from(both)).toEqual(Array.from(alone))
      tf.dispose([q!, k!, v!])
    })

    if (path.label === "wasm native") {
      it("packedAttention and its gradients give the same bits on 1 and 2 threads (pairs split over threads)", async () => {
        const lengths = Array.from({ length: 64 }, (_, r) => 1 + ((r * 7) % 23))
        const starts = lengths.reduce((s, L) => [...s, s[s.length - 1]! + L], [0])
        const N = starts[starts.length - 1]!
        const run = async (threads: number) => {
          await Engine.init({ backend: "wasm", blas: "native", threads })
          const [q, k, v, dy] = [1, 2, 3, 4].map((s) => tf.tensor2d(randomData(N * 128, s), [N, 128]))
          const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(dy!, Ops.packedAttention(a, b, c, starts, 4))))([q!, k!, v!])
          const y = Ops.packedAttention(q!, k!, v!, starts, 4)
          const out = [y, ...grads].map((t) => Buffer.from((t.dataSync() as Float32Array).buffer))
          tf.dispose([q!, k!, v!, dy!, y, ...grads])
          return out
        }
        const one = await run(1)
        const two = await run(2)
        await path.init()
        two.forEach((b, i) => expect(b.equals(one[i]!), `output ${i}`).toBe(true))
      })
    }

    it("packedAttention rejects starts that do not cover q", () => {
      const x = tf.zeros([4, 6])
      expect(() => Ops.packedAttention(x, x, x, [0, 3], 2)).toThrow(/starts must rise from 0 to the 4 rows/)
      expect(() => Ops.packedAttention(x, x, x, [0, 3, 2, 4], 2)).toThrow(/starts must rise/)
      expect(() => Ops.packedAttention(x, x, x, [0, 4], 4)).toThrow(/heads must divide 6/)
      x.dispose()
    })

    it("rejects a gamma of the wrong length", () => {
      const x = tf.zeros([2, 3])
      expect(() => Ops.layerNorm(x, tf.ones([4]) as tf.Tensor1D, undefined)).toThrow(/gamma shape \[4\] must be \[3\]/)
      x.dispose()
    })
  })
}
