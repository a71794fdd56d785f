import { beforeAll, describe, expect, it } from "vitest"
import fc from "fast-check"
import * as tf from "@tensorflow/tfjs-core"
import { Rng } from "@duet/core"
import {
  Aggregation,
  Gspo,
  Kl,
  Metrics,
  Normaliser,
  PpoClip,
  ZeroAdvantageSkip,
  ZeroAdvantageSkipRefusedError,
  canSkipZeroAdvantageRows,
  type PolicyLoss
} from "../src/index.js"
import { U32, expectClose, maskOf, useCpu, values } from "./support.js"

fc.configureGlobal({ seed: 42 })
beforeAll(useCpu)

/** A tiny linear "policy": features (B, T, D) -> logits (B T, V) = x W -> log-prob of each target token. */
const policyLogp = (x: tf.Tensor3D, W: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor2D => {
  const [B, T, D] = x.shape
  const V = W.shape[1]
  const logits = tf.matMul(tf.reshape(x, [B * T, D]), W) // (B T, V)
  const picked = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.reshape(targets, [B * T]), V)), -1) // (B T,)
  return tf.reshape(picked, [B, T]) as tf.Tensor2D
}

const aggregations: Array<[string, Aggregation.Aggregation]> = [
  ["tokenMean", Aggregation.tokenMean],
  ["seqMeanTokenMean", Aggregation.seqMeanTokenMean],
  ["seqMeanTokenSum", Aggregation.seqMeanTokenSum],
  ["seqMeanTokenSumNorm", Aggregation.seqMeanTokenSumNorm()]
]

const batch = fc
  .record({ B: fc.integer({ min: 2, max: 6 }), T: fc.integer({ min: 1, max: 5 }), seed: fc.integer() })
  .chain(({ B, T, seed }) =>
    fc.record({
      B: fc.constant(B),
      T: fc.constant(T),
      seed: fc.constant(seed),
      lengths: fc.array(fc.integer({ min: 0, max: T }), { minLength: B, maxLength: B }),
      // 2-GRPO-like advantages: +-0.7071 for discordant pairs, 0 for concordant ones (and a few others)
      advantages: fc.array(fc.constantFrom(0, 0, 0.70710578, -0.70710578, 1.5, -0.25), { minLength: B, maxLength: B })
    })
  )

describe("zero-advantage skipping: the kept rows with the full-batch normaliser give the full batch's loss and gradient", () => {
  const D = 3
  const V = 4
  for (const [name, aggregation] of aggregations) {
    for (const [lossName, loss] of [
      ["ppoClip", PpoClip.ppoClip({ aggregation, metrics: false })],
      ["gspo", Gspo.gspo({ aggregation, epsLow: 0.2, epsHigh: 0.2, metrics: false })]
    ] as Array<[string, PolicyLoss.PolicyLoss]>) {
      it(`${lossName} + ${name} (property, linear policy, off-policy so clips are active)`, () => {
        fc.assert(
          fc.property(batch, ({ B, T, seed, lengths, advantages }) => {
            const kept = Array.from(ZeroAdvantageSkip.keptRows(advantages))
            fc.pre(kept.length > 0 && lengths.some((n) => n > 0))
            const rng = Rng.seeded(seed)
            const normal = (n: number) => Array.from({ length: n }, () => rng.normal())
            tf.tidy(() => {
              const x = tf.tensor3d(normal(B * T * D), [B, T, D])
              const W = tf.variable(tf.tensor2d(normal(D * V), [D, V]))
              const targets = tf.tensor2d(Array.from({ length: B * T }, () => rng.int(V)), [B, T], "int32")
              // the sampling policy differs from the current one by noise of size 0.3 per token
              const oldLogp = tf.tensor2d(values(policyLogp(x, W, targets)).map((v) => v + 0.3 * rng.normal()), [B, T])
              const mask = maskOf(lengths, T)
              const adv = tf.tensor1d(advantages)
              const keptIdx = Int32Array.from(kept)

              const full = tf.variableGrads(() => loss({ logp: policyLogp(x, W, targets), oldLogp, advantages: adv, mask }).loss, [W])
              const normaliser = Normaliser.fromMask(mask)
              const sub = tf.variableGrads(
                () =>
                  loss({
                    logp: policyLogp(ZeroAdvantageSkip.selectRows(x, keptIdx), W, ZeroAdvantageSkip.selectRows(targets, keptIdx)),
                    oldLogp: ZeroAdvantageSkip.selectRows(oldLogp, keptIdx),
                    advantages: ZeroAdvantageSkip.selectRows(adv, keptIdx),
                    mask: ZeroAdvantageSkip.selectRows(mask, keptIdx),
                    normaliser
                  }).loss,
                [W]
              )
              // gradient w.r.t. logp on the full batch: exactly 0 on the skipped rows
              const logpFull = policyLogp(x, W, targets)
              const gLogp = values(tf.grad((lp: tf.Tensor) => loss({ logp: lp as tf.Tensor2D, oldLogp, advantages: adv, mask }).loss)(logpFull))
              for (let i = 0; i < B; i++) if (advantages[i] === 0) for (let t = 0; t < T; t++) expect(Math.abs(gLogp[i * T + t]!)).toBe(0)
              // Forward error bound of a float32 sum of n = B T terms, each |x_btd| |dsoftmax| |g_bt| <=
              // max|x| |g_bt|: (n + 8) U32 S per computation, S = max|x| sum|g|; two computations.
              const S = Math.max(...values(tf.abs(x))) * gLogp.reduce((s, g) => s + Math.abs(g), 0)
              const tol = 2 * (B * T + 8) * U32 * S
              expectClose(values(sub.grads[W.name]!), values(full.grads[W.name]!), tol)
              // the loss values agree too (skipped rows contribute exactly 0)
              expectClose([sub.value.dataSync()[0]!], [full.value.dataSync()[0]!], 2 * (B * T + 8) * U32 * 10 * B * T)
              W.dispose()
            })
          }),
          { numRuns: 25 }
        )
      })
    }
  }
})

describe("zero-advantage skipping is refused when a KL or entropy term needs every row", () => {
  it("canSkipZeroAdvantageRows: only pure policy losses", () => {
    expect(canSkipZeroAdvantageRows(PpoClip.ppoClip())).toBe(true)
    expect(canSkipZeroAdvantageRows(Gspo.gspo())).toBe(true)
    expect(canSkipZeroAdvantageRows(PpoClip.ppoClip({ kl: { estimator: Kl.k3, coef: 0.001 } }))).toBe(false)
    expect(canSkipZeroAdvantageRows(PpoClip.ppoClip({ kl: { estimator: Kl.k3, coef: 0 } }))).toBe(true)
    expect(canSkipZeroAdvantageRows(PpoClip.ppoClip({ entropyCoef: 0.01 }))).toBe(false)
  })
  it("a loss with a KL term throws ZeroAdvantageSkipRefusedError on a subset of rows; the full batch is fine", () => {
    const loss = PpoClip.ppoClip({ kl: { estimator: Kl.k3, coef: 0.001 } })
    tf.tidy(() => {
      const sub = {
        logp: tf.zeros([1, 2]) as tf.Tensor2D,
        oldLogp: tf.zeros([1, 2]) as tf.Tensor2D,
        refLogp: tf.zeros([1, 2]) as tf.Tensor2D,
        advantages: tf.tensor1d([1]),
        mask: tf.ones([1, 2]) as tf.Tensor2D
      }
      expect(() => loss({ ...sub, normaliser: { totalRows: 2, totalTokens: 4, maxLen: 2 } })).toThrow(ZeroAdvantageSkipRefusedError)
      expect(() => loss({ ...sub, normaliser: { totalRows: 2, totalTokens: 4, maxLen: 2 } })).toThrow(/KL term needs every row/)
      Metrics.dispose(loss({ ...sub, normaliser: { totalRows: 1, totalTokens: 2, maxLen: 2 } }).metrics)
    })
    const withEntropy = PpoClip.ppoClip({ entropyCoef: 0.01 })
    tf.tidy(() => {
      const sub = {
        logp: tf.zeros([1, 2]) as tf.Tensor2D,
        oldLogp: tf.zeros([1, 2]) as tf.Tensor2D,
        entropy: tf.ones([1, 2]) as tf.Tensor2D,
        advantages: tf.tensor1d([1]),
        mask: tf.ones([1, 2]) as tf.Tensor2D
      }
      expect(() => withEntropy({ ...sub, normaliser: { totalRows: 3, totalTokens: 4, maxLen: 2 } })).toThrow(/entropy term/)
    })
  })
  it("plan keeps every row for such a loss, and the non-zero rows otherwise", () => {
    const advantages = [0.7071, -0.7071, 0, 0, 0, 1]
    const lengths = [3, 5, 2, 8, 1, 4]
    const refused = ZeroAdvantageSkip.plan(PpoClip.ppoClip({ kl: { estimator: Kl.k1, coef: 0.1 } }), advantages, lengths, 8)
    expect(refused.skipping).toBe(false)
    expect(Array.from(refused.kept)).toEqual([0, 1, 2, 3, 4, 5])
    const p = ZeroAdvantageSkip.plan(PpoClip.ppoClip(), advantages, lengths, 8)
    expect(p.skipping).toBe(true)
    expect(Array.from(p.kept)).toEqual([0, 1, 5])
    expect(p.skippedFraction).toBe(0.5)
    expect(p.normaliser).toEqual({ totalTokens: 23, totalRows: 6, maxLen: 8 })
    expect(() => ZeroAdvantageSkip.plan(PpoClip.ppoClip(), [1, Number.NaN], [1, 1], 2)).toThrow(/advantages\[1\]/)
  })
})
