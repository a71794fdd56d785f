// Shared test support: the cpu backend (pure JS, deterministic) and float32 tolerances.
import * as tf from "@tensorflow/tfjs-core"
// tfjs-core alone registers no gradients (the @tensorflow/tfjs bundle does); losses need them.
import "@tensorflow/tfjs-core/dist/register_all_gradients"
import "@tensorflow/tfjs-backend-cpu"

export const useCpu = async (): Promise<void> => {
  await tf.setBackend("cpu")
  await tf.ready()
}

/** Unit roundoff of float32. */
export const U32 = 2 ** -24

/**
 * Tolerance of a float32 result obtained by `ops` successive roundings of values of magnitude at
 * most `magnitude` (standard forward error bound: each op adds at most `U32 * magnitude`), doubled
 * because the expected value is itself a float32 rounding of a decimal constant.
 */
export const f32Tol = (ops: number, magnitude: number): number => 2 * ops * magnitude * U32

export const values = (t: tf.Tensor): number[] => Array.from(t.dataSync())

export const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void => {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`)
  for (let i = 0; i < actual.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!)
    if (!(diff <= tol)) throw new Error(`index ${i}: ${actual[i]} vs ${expected[i]} (|diff| ${diff} > tol ${tol})`)
  }
}

/** A (B, T) mask whose row i has `lengths[i]` leading ones. */
export const maskOf = (lengths: readonly number[], width: number): tf.Tensor2D =>
  tf.tensor2d(lengths.map((n) => Array.from({ length: width }, (_, t) => (t < n ? 1 : 0))))
