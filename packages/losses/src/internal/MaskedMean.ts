/** Masked means for metrics: `sum(x M) / max(sum(M), 1)` over the rows given. */
import * as tf from "@tensorflow/tfjs-core"
import type { Scalar, Tensor } from "@tensorflow/tfjs-core"

export const maskedMean = (x: Tensor, mask: Tensor): Scalar =>
  tf.tidy(() => tf.div(tf.sum(tf.mul(tf.cast(x, "float32"), mask)), tf.maximum(tf.sum(mask), 1)))
