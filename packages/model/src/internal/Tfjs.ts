/**
 * The one seam between the model and tfjs: the `tf` namespace and the few composite ops the engine
 * will fuse (LayerNorm, GELU). Every model file imports tensors from here, so switching to
 * `@duet/engine`'s `tf` (one tfjs instance for the whole repo) and its fused kernels is a change to
 * this file only.
 */
// One tfjs instance for the repo: @duet/engine's (the @tensorflow/tfjs union bundle, which in Node is
// what registers the gradients; tfjs-core's node build has none).
import { tf } from "@duet/engine"

export { tf }

/**
 * LayerNorm over the last axis (Ba et al. 2016), biased variance as in PyTorch's `nn.LayerNorm`.
 * x: (N, C), gain/bias: (C). Returns (N, C).
 */
export const layerNorm = (x: tf.Tensor, gain: tf.Tensor1D, bias: tf.Tensor1D | undefined, eps: number): tf.Tensor =>
  tf.tidy(() => {
    const mean = tf.mean(x, -1, true) // (N, 1)
    const centered = tf.sub(x, mean)
    const variance = tf.mean(tf.square(centered), -1, true) // (N, 1)
    const normed = tf.mul(centered, tf.rsqrt(tf.add(variance, eps)))
    const scaled = tf.mul(normed, gain)
    return bias === undefined ? scaled : tf.add(scaled, bias)
  })

/**
 * Sigmoid-GELU `x * sigmoid(1.702 x)` (Hendrycks & Gimpel 2016, sec. 2): within 0.02 of the exact
 * GELU and fast on wasm, where `tanh`/`pow` (the tanh form) are slow paths (ENGINE-NOTES).
 */
export const gelu = <T extends tf.Tensor>(x: T): T => tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))) as T)

/** True when the active backend can differentiate `tf.gather` (its gradient is UnsortedSegmentSum). */
export const gatherHasGradient = (): boolean => tf.getKernel("UnsortedSegmentSum", tf.getBackend()) !== undefined
