/**
 * PPO-clip policy loss (Schulman et al. 2017, arXiv:1707.06347) with asymmetric clip ("clip-higher",
 * DAPO, Yu et al. 2025, arXiv:2503.14476) and dual clip (Ye et al. 2020, arXiv:1912.09729), as verl
 * `compute_policy_loss_vanilla` computes it. Per token, with `w = exp(clamp(logp - oldLogp, -20, 20))`:
 *
 *   `L = max(-A w, -A clamp(w, 1 - epsLow, 1 + epsHigh))`             (= -min(w A, clip(w) A))
 *   `L = min(L, -A c)` where `A < 0`                                  (dual clip, verl default c = 3)
 *
 * then aggregated (default `tokenMean`). Defaults: eps 0.2 / 0.2 (verl, TRL); DAPO uses 0.2 / 0.28.
 * On-policy (`logp = oldLogp`) the gradient is REINFORCE's: `-A grad logp`, aggregated.
 *
 * Metrics (token fractions over the rows given): `clipFracLow` — `w < 1 - epsLow` and `A < 0`;
 * `clipFracHigh` — `w > 1 + epsHigh` and `A > 0` (TRL's `clip_ratio/low_mean`, `/high_mean`: the
 * tokens whose gradient the clip zeroes); `dualClipFrac` — `A < 0` and the dual cap active (verl
 * `pg_clipfrac_lower`); `approxKl` — `mean(-log w)` (verl `ppo_kl`).
 */
import * as tf from "@tensorflow/tfjs-core"
import type { Scalar, Tensor2D } from "@tensorflow/tfjs-core"
import { InvalidArgumentError } from "@duet/core"
import { maskedMean } from "./internal/MaskedMean.js"
import * as PolicyLoss from "./PolicyLoss.js"
import { PluginOptions } from "@duet/core"
import * as LossEntryModule from "./LossEntry.js"

export interface PpoClipOptions extends PolicyLoss.CommonOptions {
  /** Lower clip: the ratio is clipped below at `1 - epsLow`. Default 0.2. In [0, 1). */
  readonly epsLow?: number | undefined
  /** Upper clip: the ratio is clipped above at `1 + epsHigh`. Default 0.2 (DAPO: 0.28). >= 0. */
  readonly epsHigh?: number | undefined
  /** Dual-clip constant c (> 1) capping the loss of negative-advantage tokens at `-A c`; `false` disables. Default 3 (verl). */
  readonly dualClip?: number | false | undefined
}

/** `w = exp(clamp(logp - oldLogp, -20, 20))` and its log, per token (verl's clamp). */
export const ratio = (logp: Tensor2D, oldLogp: Tensor2D): { readonly logRatio: Tensor2D; readonly ratio: Tensor2D } => {
  const logRatio = tf.clipByValue(tf.sub(logp, oldLogp), -20, 20) as Tensor2D
  return { logRatio, ratio: tf.exp(logRatio) as Tensor2D }
}

export const ppoClip = (options: PpoClipOptions = {}): PolicyLoss.PolicyLoss => {
  const name = "ppoClip"
  const epsLow = options.epsLow ?? 0.2
  const epsHigh = options.epsHigh ?? 0.2
  const dualClip = options.dualClip ?? 3
  if (!(Number.isFinite(epsLow) && epsLow >= 0 && epsLow < 1)) {
    throw new InvalidArgumentError(`${name}.epsLow`, `is ${epsLow}; must be in [0, 1)`)
  }
  if (!(Number.isFinite(epsHigh) && epsHigh >= 0)) throw new InvalidArgumentError(`${name}.epsHigh`, `is ${epsHigh}; must be a finite number >= 0`)
  if (dualClip !== false && !(Number.isFinite(dualClip) && dualClip > 1)) {
    throw new InvalidArgumentError(`${name}.dualClip`, `is ${dualClip}; must be a number > 1 or false`)
  }
  const surrogate: PolicyLoss.Surrogate = (input, adv, withMetrics) => {
    const [B, T] = input.logp.shape
    const { logRatio, ratio: w } = ratio(input.logp, input.oldLogp) // (B, T)
    const negAdv = tf.broadcastTo(tf.neg(adv), [B, T]) as Tensor2D // (B, T)
    const unclipped = tf.mul(negAdv, w)
    const clipped = tf.mul(negAdv, tf.clipByValue(w, 1 - epsLow, 1 + epsHigh))
    const clipLoss = tf.maximum(unclipped, clipped) // (B, T)
    const negative = tf.less(tf.broadcastTo(adv, [B, T]), 0) // (B, T) bool
    let perToken = clipLoss as Tensor2D
    let dualActive: tf.Tensor | undefined
    if (dualClip !== false) {
      const cap = tf.mul(negAdv, dualClip) // -A c
      perToken = tf.where(negative, tf.minimum(clipLoss, cap), clipLoss) as Tensor2D
      dualActive = tf.logicalAnd(negative, tf.greater(clipLoss, cap))
    }
    const metrics: Record<string, Scalar> = {}
    if (withMetrics) {
      const { mask } = input
      const positive = tf.greater(tf.broadcastTo(adv, [B, T]), 0)
      metrics.clipFracLow = maskedMean(tf.logicalAnd(negative, tf.less(w, 1 - epsLow)), mask)
      metrics.clipFracHigh = maskedMean(tf.logicalAnd(positive, tf.greater(w, 1 + epsHigh)), mask)
      metrics.dualClipFrac = dualActive === undefined ? tf.scalar(0) : maskedMean(dualActive, mask)
      metrics.approxKl = maskedMean(tf.neg(logRatio), mask)
    }
    return { perToken, metrics }
  }
  return PolicyLoss.make(name, surrogate, options)
}

export const entry = LossEntryModule.policy({
  name: "ppo-clip",
  summary: "PPO clipped surrogate with clip-higher and dual clip (verl/TRL GRPO loss; DAPO epsHigh 0.28)",
  options: {
    epsLow: PluginOptions.number(0, "lower clip: ratio >= 1 - epsLow (default 0.2)"),
    epsHigh: PluginOptions.number(0, "upper clip: ratio <= 1 + epsHigh (default 0.2; DAPO 0.28)"),
    dualClip: PluginOptions.number(1, "dual-clip constant c > 1 capping negative-advantage losses at -A c (default 3, verl); false turns it off", { orFalse: true })
  },
  make: (options, common) => ppoClip({ ...common, ...options })
})
