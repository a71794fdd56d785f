/**
 * The one seam between the model and tfjs: the `tf` namespace and the ops the engine fuses
 * (LayerNorm, GELU). Every model file imports tensors from here.
 */
// One tfjs instance for the repo: @duet/engine's (the @tensorflow/tfjs union bundle, which in Node is
// what registers the gradients; tfjs-core's node build has none).
import { Ops, tf } from "@duet/engine"

export { Ops, tf }

/**
 * LayerNorm over the last axis (Ba et al. 2016), biased variance as in PyTorch's `nn.LayerNorm`:
 * the engine's fused kernel on wasm, the same formula composed of tfjs ops elsewhere.
 * x: (N, C), gain/bias: (C). Returns (N, C).
 */
export const layerNorm = (x: tf.Tensor, gain: tf.Tensor1D, bias: tf.Tensor1D | undefined, eps: number): tf.Tensor =>
  Ops.layerNorm(x, gain, bias, eps)

/**
 * Sigmoid-GELU `x * sigmoid(1.702 x)` (Hendrycks & Gimpel 2016, sec. 2): within 0.02 of the exact
 * GELU and fast on wasm, where `tanh`/`pow` (the tanh form) are slow paths (ENGINE-NOTES). The
 * engine's fused kernel when active.
 */
export const gelu = <T extends tf.Tensor>(x: T): T => Ops.gelu(x, "sigmoid")

/** True when the active backend can differentiate `tf.gather` (its gradient is UnsortedSegmentSum). */
export const gatherHasGradient = (): boolean => tf.getKernel("UnsortedSegmentSum", tf.getBackend()) !== undefined

/**
 * float32 one-hot rows (N, depth). Built as int32 and cast: stock wasm's OneHot kernel ignores its
 * dtype attribute and writes int32 bits, so `tf.oneHot(ids, V, 1, 0, "float32")` reads as denormals there.
 */
export const oneHot = (ids: tf.Tensor, depth: number): tf.Tensor2D => tf.cast(tf.oneHot(ids as tf.Tensor1D, depth), "float32") as tf.Tensor2D
