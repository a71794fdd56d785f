/**
 * KL-to-reference estimators, per token, from the current and a frozen reference policy's token
 * log-probs. With `d = refLogp - logp` (Schulman, "Approximating KL Divergence", 2020; verl
 * `kl_penalty`; REFERENCE.md "KL to a reference policy"):
 *
 * | estimator | value             | note                                                     |
 * |-----------|-------------------|----------------------------------------------------------|
 * | `k1`      | `-d`              | unbiased for KL(pi || ref), high variance, can be < 0     |
 * | `abs`     | `abs(d)`          | verl "abs"                                              |
 * | `k2`      | `d^2 / 2`         | verl "mse"                                              |
 * | `k3`      | `exp(d) - d - 1`  | verl "low_var_kl", TRL's only choice; always >= 0        |
 *
 * `k3` clamps `d` to [-20, 20] and the value to at most 10 as verl does (the gradient is 0 where a
 * clamp is active). verl's `kl_loss_coef` default is 0.001; TRL's `beta` default is 0.
 */
import * as tf from "@tensorflow/tfjs-core"
import type { Tensor2D } from "@tensorflow/tfjs-core"

/** `(logp (B, T), refLogp (B, T)) -> per-token KL estimate (B, T)`. */
export type Estimator = (logp: Tensor2D, refLogp: Tensor2D) => Tensor2D

/** `logp - refLogp`. */
export const k1: Estimator = (logp, refLogp) => tf.sub(logp, refLogp) as Tensor2D

/** `abs(logp - refLogp)`. */
export const abs: Estimator = (logp, refLogp) => tf.tidy(() => tf.abs(tf.sub(logp, refLogp)) as Tensor2D)

/** `(logp - refLogp)^2 / 2`. */
export const k2: Estimator = (logp, refLogp) => tf.tidy(() => tf.mul(tf.square(tf.sub(logp, refLogp)), 0.5) as Tensor2D)

/**
 * `exp(d) - d - 1` with `d = clamp(refLogp - logp, -20, 20)`, computed as `expm1(d) - d` and clamped
 * to [0, 10]. verl clamps to [-10, 10]; the value is >= 0 for every d, so the lower bound 0 only
 * removes float32 rounding (`exp(d) - d - 1` in float32 rounds to about -6e-8 for small |d|) and
 * keeps the estimator's defining property, k3 >= 0, true in float32 too.
 */
export const k3: Estimator = (logp, refLogp) =>
  tf.tidy(() => {
    const d = tf.clipByValue(tf.sub(refLogp, logp), -20, 20)
    return tf.clipByValue(tf.sub(tf.expm1(d), d), 0, 10) as Tensor2D
  })

/** A KL penalty: estimator and coefficient (`coef * aggregate(estimator(logp, refLogp))` is added to the loss). */
export interface KlTerm {
  readonly estimator: Estimator
  /** >= 0; 0 disables the term (no reference log-probs needed). */
  readonly coef: number
}
