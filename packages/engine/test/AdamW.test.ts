import fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { AdamW, Engine, tf } from "../src/index.js"
import { randomData, u32 } from "./Reference.js"
import { blasPaths } from "./Paths.js"

const config: AdamW.AdamWConfig = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 }

/**
 * torch.optim.AdamW after clip_grad_norm_, in float64 with float32 storage of p, m, v between
 * steps (what any float32 implementation keeps); returns the states after each step and the
 * scale of each parameter's update (for the error bound).
 */
const reference = (p0: Float32Array[], gs: Float32Array[][], names: string[], shapes: number[][], c: AdamW.AdamWConfig) => {
  const p = p0.map((x) => Float64Array.from(x))
  const m = p0.map((x) => new Float64Array(x.length))
  const v = p0.map((x) => new Float64Array(x.length))
  const norms: number[] = []
  const updates = p0.map((x) => new Float64Array(x.length))
  gs.forEach((g, step) => {
    const t = step + 1
    const norm = Math.sqrt(g.reduce((a, gi) => a + gi.reduce((b, x) => b + x * x, 0), 0))
    norms.push(norm)
    const scale = c.maxGradNorm === null ? 1 : Math.min(1, c.maxGradNorm / (norm + 1e-6))
    g.forEach((gi, j) => {
      const keep = AdamW.decays(names[j]!, shapes[j]!) ? 1 - c.lr * c.weightDecay : 1
      for (let i = 0; i < gi.length; i++) {
        const gg = gi[i]! * scale
        m[j]![i] = Math.fround(c.beta1 * m[j]![i]! + (1 - c.beta1) * gg)
        v[j]![i] = Math.fround(c.beta2 * v[j]![i]! + (1 - c.beta2) * gg * gg)
        const upd = ((c.lr / (1 - c.beta1 ** t)) * m[j]![i]!) / (Math.sqrt(v[j]![i]!) / Math.sqrt(1 - c.beta2 ** t) + c.eps)
        updates[j]![i]! += Math.abs(upd)
        p[j]![i] = Math.fround(p[j]![i]! * keep - upd)
      }
    })
  })
  return { p, m, v, norms, updates }
}

const shapesArb = fc.array(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 2 }), { minLength: 1, maxLength: 4 })

let counter = 0

const run = (shapes: number[][], seed: number, steps: number, stock: boolean) => {
  const names = shapes.map((s, i) => (s.length >= 2 ? `layer${i}.weight` : `layer${i}.bias`))
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1))
  const p0 = sizes.map((n, i) => randomData(n, seed + i))
  const gs = Array.from({ length: steps }, (_, t) => sizes.map((n, i) => randomData(n, seed + 100 * (t + 1) + i).map((x) => x * 0.3)))
  const ref = reference(p0, gs, names, shapes, config)
  const before = tf.memory().numTensors
  const variable = (n: string, i: number) => {
    const t = tf.tensor(p0[i]!, shapes[i]!)
    const x = tf.variable(t, true, `${n}-${seed}-${stock}-${counter++}`)
    t.dispose() // the variable owns its buffer alone: the fused update goes in place
    return x
  }
  const params = new Map(names.map((n, i) => [n, variable(n, i)] as const))
  const state = AdamW.init(params)
  const norms: number[] = []
  const step = () => {
    for (let t = 0; t < steps; t++) {
      const grads = new Map(names.map((n, i) => [n, tf.tensor(gs[t]![i]!, shapes[i]!)] as const))
      norms.push(AdamW.apply(params, grads, state, config).gradNorm)
      tf.dispose([...grads.values()])
    }
  }
  const ids = [...params.values(), ...state.m.values(), ...state.v.values()].map((x) => x.dataId)
  if (stock) Engine.withStockKernels(step)
  else step()
  const after = [...params.values(), ...state.m.values(), ...state.v.values()].map((x) => x.dataId)
  // fused: every update written in place; composite: tfjs assigns new buffers
  expect(after.every((id, i) => id === ids[i])).toBe(!stock)
  const got = names.map((n) => params.get(n)!.dataSync())
  expect(state.step).toBe(steps)
  for (const x of params.values()) x.dispose()
  AdamW.dispose(state)
  expect(tf.memory().numTensors).toBe(before)
  return { got, ref, norms }
}

for (const blas of blasPaths()) {
  describe(`AdamW (${blas})`, () => {
    beforeAll(async () => {
      await Engine.init({ backend: "wasm", blas })
    })

    it("worked example: first step moves each weight by lr * sign(g), after decay", () => {
      const p = tf.variable(tf.tensor2d([[1, -2]]), true, "worked.weight")
      const params = new Map([["worked.weight", p]])
      const state = AdamW.init(params)
      const g = tf.tensor2d([[0.5, -0.25]])
      const { gradNorm } = AdamW.apply(params, new Map([["worked.weight", g]]), state, { ...config, maxGradNorm: null })
      // t = 1: m = 0.1 g, v = 0.001 g^2, so m_hat / sqrt(v_hat) = g / |g|;
      // p = p (1 - 0.1 * 0.01) - 0.1 g / (|g| + 1e-8): 0.999 - 0.1 = 0.899, -1.998 + 0.1 = -1.898
      expect(gradNorm).toBeCloseTo(Math.sqrt(0.3125), 6)
      const d = p.dataSync()
      expect(d[0]).toBeCloseTo(0.899, 6)
      expect(d[1]).toBeCloseTo(-1.898, 6)
      tf.dispose([p, g])
      AdamW.dispose(state)
    })

    it("matches float64 torch AdamW (fused, in place), and the composite stock-op path does too", () => {
      fc.assert(
        fc.property(shapesArb, fc.nat(), fc.integer({ min: 1, max: 4 }), (shapes, seed, steps) => {
          for (const stock of [false, true]) {
            const { got, ref, norms } = run(shapes, seed, steps, stock)
            // Fused: the same float64 arithmetic rounded where the reference rounds: within 4u of
            // (|p| + total |update|). Composite: ~12 float32 ops per element per step, 16u each step.
            const k = (stock ? 16 * steps : 4) * u32
            got.forEach((g, j) => {
              for (let i = 0; i < g.length; i++) {
                const tol = k * (Math.abs(ref.p[j]![i]!) + ref.updates[j]![i]!)
                if (!(Math.abs(g[i]! - ref.p[j]![i]!) <= tol)) {
                  expect.fail(`${stock ? "composite" : "fused"} param ${j}[${i}]: got ${g[i]} want ${ref.p[j]![i]} tol ${tol}`)
                }
              }
            })
            norms.forEach((n, t) => expect(Math.abs(n - ref.norms[t]!)).toBeLessThanOrEqual(8 * u32 * ref.norms[t]!))
          }
        }),
        { seed: 42, numRuns: 40 }
      )
    })

    it("a variable sharing its buffer with a live tensor is assigned, not written through", () => {
      const initial = tf.tensor2d([[1, 2]])
      const p = tf.variable(initial, true, "shared.weight") // shares initial's buffer
      const params = new Map([["shared.weight", p]])
      const state = AdamW.init(params)
      const g = tf.tensor2d([[1, 1]])
      AdamW.apply(params, new Map([["shared.weight", g]]), state, config)
      expect(Array.from(initial.dataSync())).toEqual([1, 2])
      expect(p.dataSync()[0]).not.toBe(1)
      tf.dispose([initial, p, g])
      AdamW.dispose(state)
    })

    it("rejects a gradient for an unknown parameter and a bad config, naming the field", () => {
      const p = tf.variable(tf.zeros([2]), true, "bad.bias")
      const params = new Map([["bad.bias", p]])
      const state = AdamW.init(params)
      const g = tf.zeros([2])
      expect(() => AdamW.apply(params, new Map([["nope", g]]), state, config)).toThrow(/^grads\.nope:/)
      expect(() => AdamW.apply(params, new Map([["bad.bias", g]]), state, { ...config, beta1: 1 })).toThrow(/^AdamW\.beta1:/)
      tf.dispose([p, g])
      AdamW.dispose(state)
    })
  })
}
