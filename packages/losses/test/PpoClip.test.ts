import { beforeAll, describe, expect, it } from "vitest"
import fc from "fast-check"
import * as tf from "@tensorflow/tfjs-core"
import { InvalidArgumentError } from "@duet/core"
import { Aggregation, Kl, Metrics, PpoClip, Gspo, type PolicyLoss } from "../src/index.js"
import { expectClose, f32Tol, maskOf, useCpu, values } from "./support.js"

fc.configureGlobal({ seed: 42 })
beforeAll(useCpu)

/** Loss value, metrics, and gradient with respect to logp. */
const run = (loss: PolicyLoss.PolicyLoss, input: Omit<PolicyLoss.Input, "logp">, logp: number[][]) =>
  tf.tidy(() => {
    let metrics: Metrics.Metrics = {}
    const { value, grad } = tf.valueAndGrad((lp: tf.Tensor) => {
      const out = loss({ ...input, logp: lp as tf.Tensor2D })
      metrics = out.metrics
      return out.loss
    })(tf.tensor2d(logp))
    return { value: value.dataSync()[0]!, grad: values(grad), metrics: Metrics.read(metrics) }
  })

describe("ppoClip: hand-computed example", () => {
  // oldLogp arbitrary; logp = oldLogp + log w with w per token:
  //   row 0, A = +1: w = 1.5 (clipped to 1.2), 0.5, 1.1  -> L = -1.2, -0.5, -1.1
  //   row 1, A = -1: w = 0.5 (clipped to 0.8), 4 (dual cap 3), 1.1 -> L = 0.8, 3, 1.1  (4 without dual clip)
  const old = [[-1, -2, -0.5], [-3, -1.5, -0.7]]
  const w = [[1.5, 0.5, 1.1], [0.5, 4, 1.1]]
  const logp = old.map((r, i) => r.map((o, t) => o + Math.log(w[i]![t]!)))
  const input = () => ({ oldLogp: tf.tensor2d(old), advantages: tf.tensor1d([1, -1]), mask: tf.ones([2, 3]) as tf.Tensor2D })
  // a dozen float32 ops on values <= 4, six terms summed
  const tol = f32Tol(20, 4 * 6)

  it("token-mean with dual clip: (-1.2 - 0.5 - 1.1 + 0.8 + 3 + 1.1) / 6 = 0.35", () => {
    const r = tf.tidy(() => run(PpoClip.ppoClip(), input(), logp))
    expect(Math.abs(r.value - 0.35)).toBeLessThanOrEqual(tol)
    // gradient -A w / 6 where the unclipped branch is active, 0 where a clip is
    expectClose(r.grad, [0, -0.5 / 6, -1.1 / 6, 0, 0, 1.1 / 6], tol)
    expectClose([r.metrics.clipFracHigh!, r.metrics.clipFracLow!, r.metrics.dualClipFrac!], [1 / 6, 1 / 6, 1 / 6], 1e-7)
    // approx KL = mean(-log w) = -log(1.5 0.5 1.1 0.5 4 1.1) / 6
    expect(Math.abs(r.metrics.approxKl! - -Math.log(1.815) / 6)).toBeLessThanOrEqual(tol)
    expect(Math.abs(r.metrics.policyLoss! - 0.35)).toBeLessThanOrEqual(tol)
  })
  it("without dual clip the w = 4 token costs 4 and keeps its gradient: 3.1 / 6", () => {
    const r = tf.tidy(() => run(PpoClip.ppoClip({ dualClip: false }), input(), logp))
    expect(Math.abs(r.value - 3.1 / 6)).toBeLessThanOrEqual(tol)
    expectClose(r.grad, [0, -0.5 / 6, -1.1 / 6, 0, 4 / 6, 1.1 / 6], tol)
    expect(r.metrics.dualClipFrac).toBe(0)
  })
  it("clip-higher (DAPO, epsHigh 0.28): w = 1.5 now clipped at 1.28", () => {
    const r = tf.tidy(() => run(PpoClip.ppoClip({ epsHigh: 0.28 }), input(), logp))
    expect(Math.abs(r.value - (-1.28 - 0.5 - 1.1 + 0.8 + 3 + 1.1) / 6)).toBeLessThanOrEqual(tol)
  })
  it("a k3 KL term adds coef * token-mean(k3); an entropy bonus subtracts coef * token-mean(H)", () => {
    // refLogp = logp + d with d = -0.5 everywhere: k3 = e^-0.5 + 0.5 - 1 = 0.10653066
    const ref = logp.map((r) => r.map((x) => x - 0.5))
    const loss = PpoClip.ppoClip({ kl: { estimator: Kl.k3, coef: 0.1 }, entropyCoef: 0.01 })
    const r = tf.tidy(() => run(loss, { ...input(), refLogp: tf.tensor2d(ref), entropy: tf.fill([2, 3], 2) as tf.Tensor2D }, logp))
    expect(Math.abs(r.value - (0.35 + 0.1 * 0.10653066 - 0.01 * 2))).toBeLessThanOrEqual(tol)
    expect(Math.abs(r.metrics.kl! - 0.10653066)).toBeLessThanOrEqual(tol)
    expect(Math.abs(r.metrics.entropy! - 2)).toBeLessThanOrEqual(tol)
  })
  it("rejects bad hyperparameters and inputs with typed errors naming the field", () => {
    expect(() => PpoClip.ppoClip({ epsLow: 1 })).toThrow(/epsLow/)
    expect(() => PpoClip.ppoClip({ dualClip: 1 })).toThrow(/dualClip/)
    expect(() => PpoClip.ppoClip({ kl: { estimator: Kl.k3, coef: -1 } })).toThrow(/kl\.coef/)
    const loss = PpoClip.ppoClip()
    tf.tidy(() => {
      const base = { logp: tf.zeros([2, 3]) as tf.Tensor2D, oldLogp: tf.zeros([2, 3]) as tf.Tensor2D, mask: tf.ones([2, 3]) as tf.Tensor2D }
      expect(() => loss({ ...base, advantages: tf.tensor1d([1, 2, 3]) })).toThrow(/advantages/)
      expect(() => loss({ ...base, oldLogp: tf.zeros([2, 2]) as tf.Tensor2D, advantages: tf.tensor1d([1, 2]) })).toThrow(InvalidArgumentError)
      const withKl = PpoClip.ppoClip({ kl: { estimator: Kl.k1, coef: 0.1 } })
      expect(() => withKl({ ...base, advantages: tf.tensor1d([1, 2]) })).toThrow(/refLogp/)
    })
  })
})

const aggregations: Array<[string, Aggregation.Aggregation]> = [
  ["tokenMean", Aggregation.tokenMean],
  ["seqMeanTokenMean", Aggregation.seqMeanTokenMean],
  ["seqMeanTokenSum", Aggregation.seqMeanTokenSum],
  ["seqMeanTokenSumNorm", Aggregation.seqMeanTokenSumNorm()]
]

/** Random batches: B rows, T columns, response lengths, advantages, log-probs. */
const batch = fc
  .record({ B: fc.integer({ min: 1, max: 4 }), T: fc.integer({ min: 1, max: 5 }) })
  .chain(({ B, T }) =>
    fc.record({
      B: fc.constant(B),
      T: fc.constant(T),
      lengths: fc.array(fc.integer({ min: 1, max: T }), { minLength: B, maxLength: B }),
      advantages: fc.array(fc.oneof(fc.constant(0), fc.double({ min: -2, max: 2, noNaN: true })), { minLength: B, maxLength: B }),
      logp: fc.array(fc.array(fc.double({ min: -5, max: 0, noNaN: true }), { minLength: T, maxLength: T }), { minLength: B, maxLength: B })
    })
  )

describe("on-policy PPO and GSPO gradients equal the REINFORCE gradient (property)", () => {
  for (const [name, agg] of aggregations) {
    it(`${name}: grad = grad of aggregate(-A logp)`, () => {
      fc.assert(
        fc.property(batch, ({ B, T, lengths, advantages, logp }) => {
          tf.tidy(() => {
            const mask = maskOf(lengths, T)
            const adv = tf.tensor1d(advantages)
            const x = tf.tensor2d(logp)
            // a separate tensor with the same values: oldLogp is a constant, off the tape
            const oldLogp = tf.tensor2d(logp)
            const reinforce = values(
              tf.grad((lp: tf.Tensor) => agg(tf.mul(tf.neg(tf.reshape(adv, [B, 1])), lp) as tf.Tensor2D, mask))(x)
            )
            for (const loss of [PpoClip.ppoClip({ aggregation: agg, metrics: false }), Gspo.gspo({ aggregation: agg, metrics: false })]) {
              const g = values(tf.grad((lp: tf.Tensor) => loss({ logp: lp as tf.Tensor2D, oldLogp, advantages: adv, mask }).loss)(x))
              // entries are |A| / (count) with a few float32 ops each
              expectClose(g, reinforce, f32Tol(8, 2))
            }
          })
        }),
        { numRuns: 40 }
      )
    })
  }
})

describe("clipping zeroes the gradient outside the trust region, in the right direction (property)", () => {
  it("A > 0: zero above 1 + epsHigh, -A w / N below 1 - epsLow; A < 0: zero below 1 - epsLow and above c, -A w / N between", () => {
    const epsLow = 0.2
    const epsHigh = 0.28
    const c = 3
    const loss = PpoClip.ppoClip({ epsLow, epsHigh, dualClip: c, metrics: false })
    // w in one of five regions, kept 1e-3 (relative) away from every boundary
    const region = fc.constantFrom("below", "inside", "above", "aboveCap")
    fc.assert(
      fc.property(
        fc.double({ min: 0.05, max: 2, noNaN: true }),
        fc.boolean(),
        region,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: -4, max: -0.1, noNaN: true }),
        (size, positive, where, u, old) => {
          const lo = 1 - epsLow
          const hi = 1 + epsHigh
          const bounds = { below: [0.05, lo], inside: [lo, hi], above: [hi, c], aboveCap: [c, 8] }[where] as [number, number]
          const w = bounds[0] * 1.001 + (bounds[1] * 0.999 - bounds[0] * 1.001) * u
          const A = positive ? size : -size
          const g = tf.tidy(() => {
            const oldLogp = tf.tensor2d([[old]])
            const lp = tf.tensor2d([[old + Math.log(w)]])
            return values(
              tf.grad((x: tf.Tensor) => loss({ logp: x as tf.Tensor2D, oldLogp, advantages: tf.tensor1d([A]), mask: tf.ones([1, 1]) as tf.Tensor2D }).loss)(lp)
            )[0]!
          })
          const clippedAway = positive ? where === "above" || where === "aboveCap" : where === "below" || where === "aboveCap"
          if (clippedAway) expect(g).toBe(0)
          else {
            // d/dlogp (-A w) = -A w: descent raises logp when A > 0, lowers it when A < 0
            expect(Math.sign(g)).toBe(positive ? -1 : 1)
            expect(Math.abs(g - -A * w)).toBeLessThanOrEqual(f32Tol(6, Math.abs(A) * 8))
          }
        }
      ),
      { numRuns: 200 }
    )
  })
})

describe("metrics survive tf.variableGrads and nothing leaks", () => {
  it("numTensors is unchanged after a step once the metrics are read", () => {
    const W = tf.variable(tf.randomNormal([4, 3], 0, 1, "float32", 1))
    const x = tf.randomNormal([2, 4], 0, 1, "float32", 2)
    const oldLogp = tf.zeros([2, 3]) as tf.Tensor2D
    const adv = tf.tensor1d([1, -1])
    const mask = tf.ones([2, 3]) as tf.Tensor2D
    const loss = PpoClip.ppoClip({ kl: { estimator: Kl.k3, coef: 0.01 } })
    const step = () => {
      let metrics: Metrics.Metrics = {}
      const { value, grads } = tf.variableGrads(() => {
        const logp = tf.logSoftmax(tf.matMul(x, W)) as tf.Tensor2D // (2, 3) a toy policy
        const out = loss({ logp, oldLogp, advantages: adv, mask, refLogp: oldLogp })
        metrics = out.metrics
        return out.loss
      })
      const read = Metrics.read(metrics)
      value.dispose()
      tf.dispose(grads)
      return read
    }
    step()
    const before = tf.memory().numTensors
    const read = step()
    expect(tf.memory().numTensors).toBe(before)
    expect(Object.keys(read).sort()).toEqual(["approxKl", "clipFracHigh", "clipFracLow", "dualClipFrac", "kl", "policyLoss"])
    expect(Object.values(read).every(Number.isFinite)).toBe(true)
  })
})
