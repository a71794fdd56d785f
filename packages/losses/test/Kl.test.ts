import { beforeAll, describe, expect, it } from "vitest"
import fc from "fast-check"
import * as tf from "@tensorflow/tfjs-core"
import { Entropy, Kl } from "../src/index.js"
import { expectClose, f32Tol, useCpu, values } from "./support.js"

fc.configureGlobal({ seed: 42 })
beforeAll(useCpu)

describe("KL estimators: hand-computed values, d = refLogp - logp in {-0.5, 1, 25}", () => {
  const logp = () => tf.tensor2d([[-1, -2, -30]])
  const ref = () => tf.tensor2d([[-1.5, -1, -5]])
  const at = (k: Kl.Estimator) => tf.tidy(() => values(k(logp(), ref())))
  // inputs up to 30 in float32 (absolute error 30 * 2^-24 in d), a few ops after
  const tol = f32Tol(4, 30)
  it("k1 = -d", () => expectClose(at(Kl.k1), [0.5, -1, -25], tol))
  it("abs = |d|", () => expectClose(at(Kl.abs), [0.5, 1, 25], tol))
  it("k2 = d^2 / 2", () => expectClose(at(Kl.k2), [0.125, 0.5, 312.5], f32Tol(4, 30 * 25)))
  it("k3 = exp(d) - d - 1, clamped at 10 (d = 25 is clamped to 20 first)", () =>
    expectClose(at(Kl.k3), [0.10653065971263342, 0.7182818284590451, 10], tol))
  it("k3 >= 0 for every input, in float32 too (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: -40, max: 0, noNaN: true }), fc.double({ min: -40, max: 0, noNaN: true })), { minLength: 1, maxLength: 32 }),
        fc.double({ min: 0, max: 1e-3, noNaN: true }),
        (pairs, tiny) => {
          // half the pairs are nudged to |d| <= 1e-3, where exp(d) - d - 1 rounds below 0 in float32
          const lp = pairs.map(([a]) => a)
          const rf = pairs.map(([a, b], i) => (i % 2 === 0 ? b : a + tiny))
          const k = tf.tidy(() => values(Kl.k3(tf.tensor2d([lp]), tf.tensor2d([rf]))))
          for (const v of k) expect(v).toBeGreaterThanOrEqual(0)
        }
      ),
      { numRuns: 100 }
    )
  })
  it("k3's gradient w.r.t. logp is 1 - exp(d) (0 where clamped)", () => {
    const g = tf.tidy(() => values(tf.grad((lp: tf.Tensor) => tf.sum(Kl.k3(lp as tf.Tensor2D, ref())))(logp())))
    expectClose(g, [1 - Math.exp(-0.5), 1 - Math.E, 0], tol)
  })
})

describe("Entropy.tokenEntropy", () => {
  it("uniform over 4 is log 4; (1/2, 1/4, 1/4) is 1.5 log 2", () => {
    const h = tf.tidy(() =>
      values(
        Entropy.tokenEntropy(
          tf.tensor3d([[[0, 0, 0, 0], [Math.log(0.5), Math.log(0.25), Math.log(0.25), -1e9]]])
        )
      )
    )
    expectClose(h, [Math.log(4), 1.5 * Math.log(2)], f32Tol(8, 2))
  })
  it("is invariant to adding a constant to the logits, and differentiable", () => {
    const r = tf.tidy(() => {
      const z = tf.tensor3d([[[0.3, -1, 2]]])
      const a = values(Entropy.tokenEntropy(z))
      const b = values(Entropy.tokenEntropy(tf.add(z, 5) as tf.Tensor3D))
      const g = values(tf.grad((x: tf.Tensor) => tf.sum(Entropy.tokenEntropy(x as tf.Tensor3D)))(z))
      return { a, b, g }
    })
    expectClose(r.a, r.b, f32Tol(8, 8))
    // gradient of H w.r.t. logits sums to 0 (shift invariance)
    expect(Math.abs(r.g.reduce((s, x) => s + x, 0))).toBeLessThanOrEqual(f32Tol(8, 3))
    expect(r.g.some((x) => x !== 0)).toBe(true)
  })
})
