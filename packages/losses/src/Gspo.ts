/**
 * GSPO, Group Sequence Policy Optimization (Zheng et al. 2025, arXiv:2507.18071): PPO-clip on the
 * sequence-level, length-normalised ratio instead of per-token ratios. Per row i,
 *
 *   `s_i = exp( sum_t M (clamp(logp - oldLogp, -20, 20)) / n_i )`  (= exp(mean_t log w))
 *   `L_i = max(-A_i s_i, -A_i clamp(s_i, 1 - epsLow, 1 + epsHigh))`
 *
 * and every response token of row i carries `L_i`. With the default `seqMeanTokenMean` this is the
 * paper's `mean_i L_i`; with any aggregation the gradient equals verl's GSPO-token form
 * (`compute_policy_loss_gspo`, which gives token t the gradient `s_i grad logp_t`).
 *
 * Defaults follow the paper (Sec. 5.1): clip ranges 3e-4 below and 4e-4 above — sequence ratios sit
 * much closer to 1 than token ratios. No dual clip (verl's GSPO has none). Metrics: `clipFracLow`,
 * `clipFracHigh` as fractions of ROWS (`s < 1 - epsLow, A < 0` / `s > 1 + epsHigh, A > 0`),
 * `approxKl` per token, `seqRatioMean`.
 */
import * as tf from "@tensorflow/tfjs-core"
import type { Scalar, Tensor2D } from "@tensorflow/tfjs-core"
import { InvalidArgumentError } from "@duet/core"
import { seqMeanTokenMean } from "./Aggregation.js"
import { maskedMean } from "./internal/MaskedMean.js"
import * as PolicyLoss from "./PolicyLoss.js"
import { ratio } from "./PpoClip.js"
import { PluginOptions } from "@duet/core"
import * as LossEntryModule from "./LossEntry.js"

export interface GspoOptions extends PolicyLoss.CommonOptions {
  /** Lower clip of the sequence ratio. Default 3e-4 (GSPO paper). In [0, 1). */
  readonly epsLow?: number | undefined
  /** Upper clip of the sequence ratio. Default 4e-4 (GSPO paper). >= 0. */
  readonly epsHigh?: number | undefined
}

export const gspo = (options: GspoOptions = {}): PolicyLoss.PolicyLoss => {
  const name = "gspo"
  const epsLow = options.epsLow ?? 3e-4
  const epsHigh = options.epsHigh ?? 4e-4
  if (!(Number.isFinite(epsLow) && epsLow >= 0 && epsLow < 1)) {
    throw new InvalidArgumentError(`${name}.epsLow`, `is ${epsLow}; must be in [0, 1)`)
  }
  if (!(Number.isFinite(epsHigh) && epsHigh >= 0)) throw new InvalidArgumentError(`${name}.epsHigh`, `is ${epsHigh}; must be a finite number >= 0`)
  const surrogate: PolicyLoss.Surrogate = (input, adv, withMetrics) => {
    const [B, T] = input.logp.shape
    const { mask } = input
    const { logRatio } = ratio(input.logp, input.oldLogp) // (B, T)
    const lengths = tf.maximum(tf.sum(mask, 1, true), 1) // (B, 1)
    const seqRatio = tf.exp(tf.div(tf.sum(tf.mul(logRatio, mask), 1, true), lengths)) // (B, 1)
    const negAdv = tf.neg(adv) // (B, 1)
    const rowLoss = tf.maximum(tf.mul(negAdv, seqRatio), tf.mul(negAdv, tf.clipByValue(seqRatio, 1 - epsLow, 1 + epsHigh))) // (B, 1)
    const perToken = tf.broadcastTo(rowLoss, [B, T]) as Tensor2D
    const metrics: Record<string, Scalar> = {}
    if (withMetrics) {
      const rows = tf.ones([B, 1])
      metrics.clipFracLow = maskedMean(tf.logicalAnd(tf.less(adv, 0), tf.less(seqRatio, 1 - epsLow)), rows)
      metrics.clipFracHigh = maskedMean(tf.logicalAnd(tf.greater(adv, 0), tf.greater(seqRatio, 1 + epsHigh)), rows)
      metrics.approxKl = maskedMean(tf.neg(logRatio), mask)
      metrics.seqRatioMean = tf.mean(seqRatio)
    }
    return { perToken, metrics }
  }
  return PolicyLoss.make(name, surrogate, options, seqMeanTokenMean)
}

export const entry = LossEntryModule.policy({
  name: "gspo",
  summary: "GSPO: the clipped surrogate on the length-normalised sequence ratio (arXiv:2507.18071)",
  options: {
    epsLow: PluginOptions.number(0, "lower clip of the sequence ratio (default 3e-4)"),
    epsHigh: PluginOptions.number(0, "upper clip of the sequence ratio (default 4e-4)")
  },
  make: (options, common) => gspo({ ...common, ...options })
})
