import { beforeAll, describe, expect, it } from "vitest"
import fc from "fast-check"
import * as tf from "@tensorflow/tfjs-core"
import { Dpo, Metrics } from "../src/index.js"
import { expectClose, f32Tol, useCpu, values } from "./support.js"

fc.configureGlobal({ seed: 42 })
beforeAll(useCpu)

// one pair: policy chosen -10 (ref -12), policy rejected -15 (ref -14): logits = 2 - (-1) = 3
const pair = (extra: Partial<Dpo.Input> = {}): Dpo.Input => ({
  policyChosen: tf.tensor1d([-10]),
  policyRejected: tf.tensor1d([-15]),
  refChosen: tf.tensor1d([-12]),
  refRejected: tf.tensor1d([-14]),
  ...extra
})
const evaluate = (loss: Dpo.DpoLoss, input: () => Dpo.Input) =>
  tf.tidy(() => {
    const out = loss(input())
    return { value: out.loss.dataSync()[0]!, metrics: Metrics.read(out.metrics) }
  })
// log-probs up to 15 in float32, a handful of ops
const tol = f32Tol(8, 15)

describe("DPO family: hand-computed values (beta 0.1, h = 0.3)", () => {
  it("sigmoid: -log sig(0.3) = 0.55435524", () => {
    const r = evaluate(Dpo.sigmoid(), () => pair())
    expect(Math.abs(r.value - 0.5543552444685271)).toBeLessThanOrEqual(tol)
    expectClose([r.metrics.chosenReward!, r.metrics.rejectedReward!, r.metrics.rewardMargin!, r.metrics.rewardAccuracy!], [0.2, -0.1, 0.3, 1], tol)
  })
  it("sigmoid with label smoothing 0.1: 0.9 (0.55435524) + 0.1 (0.85435524) = 0.58435524", () => {
    const r = evaluate(Dpo.sigmoid({ labelSmoothing: 0.1 }), () => pair())
    expect(Math.abs(r.value - 0.5843552444685272)).toBeLessThanOrEqual(tol)
  })
  it("hinge: relu(1 - 0.3) = 0.7", () => {
    expect(Math.abs(evaluate(Dpo.hinge(), () => pair()).value - 0.7)).toBeLessThanOrEqual(tol)
  })
  it("ipo with lengths 4 and 2: logits 2/4 - (-1)/2 = 1, (1 - 1/(2 * 0.1))^2 = 16", () => {
    const r = evaluate(Dpo.ipo(), () => pair({ chosenLength: tf.tensor1d([4]), rejectedLength: tf.tensor1d([2]) }))
    expect(Math.abs(r.value - 16)).toBeLessThanOrEqual(f32Tol(8, 16))
  })
  it("ipo without lengths fails, naming the field", () => {
    expect(() => evaluate(Dpo.ipo(), () => pair())).toThrow(/chosenLength/)
  })
  it("sigmoid gradient: d/d logp_c = -beta sig(-h), d/d logp_r = +beta sig(-h)", () => {
    const g = tf.tidy(() => {
      const gs = tf.grads((c: tf.Tensor, r: tf.Tensor) =>
        Dpo.sigmoid({ metrics: false })({ ...pair(), policyChosen: c as tf.Tensor1D, policyRejected: r as tf.Tensor1D }).loss
      )([tf.tensor1d([-10]), tf.tensor1d([-15])])
      return gs.map((t) => values(t)[0]!)
    })
    const s = 1 / (1 + Math.exp(0.3))
    expectClose(g, [-0.1 * s, 0.1 * s], tol)
  })
  it("rejects beta <= 0 and label smoothing > 0.5", () => {
    expect(() => Dpo.sigmoid({ beta: 0 })).toThrow(/beta/)
    expect(() => Dpo.sigmoid({ labelSmoothing: 0.6 })).toThrow(/labelSmoothing/)
  })
})

describe("DPO properties", () => {
  it("sigmoid loss at h = 0 is log 2, for any beta and label smoothing (property)", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 10, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: -50, max: 0, noNaN: true }),
        fc.double({ min: -50, max: 0, noNaN: true }),
        (beta, labelSmoothing, c, r) => {
          // equal log-ratios on both sides: (c - c) - (r - r) = 0
          const v = evaluate(Dpo.sigmoid({ beta, labelSmoothing }), () => ({
            policyChosen: tf.tensor1d([c]),
            policyRejected: tf.tensor1d([r]),
            refChosen: tf.tensor1d([c]),
            refRejected: tf.tensor1d([r])
          })).value
          expect(Math.abs(v - Math.log(2))).toBeLessThanOrEqual(f32Tol(4, 1))
        }
      ),
      { numRuns: 100 }
    )
  })
  it("sigmoid loss is finite for extreme margins (softplus, no overflow)", () => {
    const v = evaluate(Dpo.sigmoid({ beta: 1 }), () => pair({ policyChosen: tf.tensor1d([-1000]), refChosen: tf.tensor1d([0]) })).value
    expect(Number.isFinite(v)).toBe(true)
    expect(Math.abs(v - 999)).toBeLessThanOrEqual(f32Tol(4, 1000))
  })
})
