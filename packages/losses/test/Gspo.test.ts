import { beforeAll, describe, expect, it } from "vitest"
import * as tf from "@tensorflow/tfjs-core"
import { Aggregation, Gspo, Metrics } from "../src/index.js"
import { expectClose, f32Tol, maskOf, useCpu, values } from "./support.js"

beforeAll(useCpu)

describe("gspo: hand-computed example (paper defaults: eps 3e-4 / 4e-4, seq-mean-token-mean)", () => {
  // log w per token; T = 3, lengths 3, 2, 2:
  //   row 0, A = +1: mean(0.1, -0.1, 0.3) = 0.1, s = e^0.1 = 1.10517 > 1.0004 -> L = -1.0004, gradient 0
  //   row 1, A = -1: mean(-0.002, 0) = -0.001, s = 0.9990005 < 0.9997 -> L = max(0.9990005, 0.9997) = 0.9997, gradient 0
  //   row 2, A = +1: mean(1e-4, 1e-4) = 1e-4, s = 1.0001 inside -> L = -1.0001, dL/dlogp_t = -s / n = -1.0001 / 2
  const logw = [[0.1, -0.1, 0.3], [-0.002, 0, 0], [1e-4, 1e-4, 0]]
  const old = [[-1, -2, -3], [-0.5, -0.25, -9], [-2, -1, -9]]
  const logp = old.map((r, i) => r.map((o, t) => o + logw[i]![t]!))
  it("value, gradient and row clip fractions", () => {
    const r = tf.tidy(() => {
      let metrics: Metrics.Metrics = {}
      const { value, grad } = tf.valueAndGrad((lp: tf.Tensor) => {
        const out = Gspo.gspo()({ logp: lp as tf.Tensor2D, oldLogp: tf.tensor2d(old), advantages: tf.tensor1d([1, -1, 1]), mask: maskOf([3, 2, 2], 3) })
        metrics = out.metrics
        return out.loss
      })(tf.tensor2d(logp))
      return { value: value.dataSync()[0]!, grad: values(grad), metrics: Metrics.read(metrics) }
    })
    // float32: log-probs up to 9 carry absolute error ~9 * 2^-24 into each log ratio; exp and a
    // mean of 3 keep it at that scale
    const tol = f32Tol(10, 9)
    expect(Math.abs(r.value - (-1.0004 + 0.9997 - 1.0001000050001667) / 3)).toBeLessThanOrEqual(tol)
    // seq-mean-token-mean over 3 rows: row 2's tokens get -s / (n B) = -1.0001 / 6
    expectClose(r.grad, [0, 0, 0, 0, 0, 0, -1.0001000050001667 / 6, -1.0001000050001667 / 6, 0], tol)
    expect(r.metrics.clipFracHigh).toBeCloseTo(1 / 3, 6)
    expect(r.metrics.clipFracLow).toBeCloseTo(1 / 3, 6)
  })
  it("with token-mean, each row's loss is weighted by its length (GSPO-token form)", () => {
    const v = tf.tidy(() => {
      const out = Gspo.gspo({ aggregation: Aggregation.tokenMean })({
        logp: tf.tensor2d(logp),
        oldLogp: tf.tensor2d(old),
        advantages: tf.tensor1d([1, -1, 1]),
        mask: maskOf([3, 2, 2], 3)
      })
      Metrics.dispose(out.metrics)
      return out.loss.dataSync()[0]!
    })
    expect(Math.abs(v - (3 * -1.0004 + 2 * 0.9997 + 2 * -1.0001000050001667) / 7)).toBeLessThanOrEqual(f32Tol(10, 9))
  })
  it("rejects eps outside its domain", () => {
    expect(() => Gspo.gspo({ epsLow: -1 })).toThrow(/epsLow/)
  })
})
