/**
 * `Metrics`: the diagnostics a loss returns beside its value (clip fractions, approx KL, entropy...).
 *
 * Each metric is a scalar tensor computed from the same inputs as the loss, off the loss's path, so
 * it never changes the gradient. Metrics are `tf.keep`-ed: they survive the `tf.tidy` that
 * `tf.variableGrads` / `tf.grads` wrap around the forward pass, so a training step can read them
 * after the backward pass. The caller owns them: read them with `read` (which disposes them) or
 * call `dispose`.
 */
import * as tf from "@tensorflow/tfjs-core"
import type { Scalar } from "@tensorflow/tfjs-core"

export type Metrics = Readonly<Record<string, Scalar>>

/** Reads every metric (one `dataSync` each) and disposes the tensors. */
export const read = (metrics: Metrics): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const [key, t] of Object.entries(metrics)) {
    out[key] = t.dataSync()[0]!
    t.dispose()
  }
  return out
}

/** Async variant of `read` (no blocking read-back on GPU backends). */
export const readAsync = async (metrics: Metrics): Promise<Record<string, number>> => {
  const out: Record<string, number> = {}
  for (const [key, t] of Object.entries(metrics)) {
    out[key] = (await t.data())[0]!
    t.dispose()
  }
  return out
}

/** Disposes every metric without reading it. */
export const dispose = (metrics: Metrics): void => {
  for (const t of Object.values(metrics)) t.dispose()
}

/** Marks freshly computed metric tensors as kept (see the module comment). Library-internal use. */
export const keepAll = (metrics: Record<string, Scalar>): Metrics => {
  for (const t of Object.values(metrics)) tf.keep(t)
  return metrics
}
