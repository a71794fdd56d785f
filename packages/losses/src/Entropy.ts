/**
 * Token entropy of the policy's next-token distribution, for the entropy bonus
 * (`loss -= entropyCoef * aggregate(H)`, verl `entropy_coeff`, default 0) and the entropy metric
 * everyone logs.
 */
import * as tf from "@tensorflow/tfjs-core"
import type { Tensor2D, Tensor3D } from "@tensorflow/tfjs-core"
import { InvalidArgumentError } from "@duet/core"

/**
 * `H = logsumexp(z) - sum_v softmax(z)_v z_v` per position, from logits `z (B, T, V)` -> `(B, T)`
 * (verl `entropy_from_logits`). Differentiable, so the entropy bonus has a gradient.
 */
export const tokenEntropy = (logits: Tensor3D): Tensor2D => {
  if (logits.rank !== 3) throw new InvalidArgumentError("logits", `has rank ${logits.rank}; expected (B, T, V)`)
  return tf.tidy(() => {
    const logProbs = tf.logSoftmax(logits, -1) // (B, T, V)
    return tf.neg(tf.sum(tf.mul(tf.exp(logProbs), logProbs), -1)) as Tensor2D // (B, T)
  })
}
