/**
 * Gradient of BatchMatMul that also handles broadcast batch dims. tfjs-core 4.22's own gradient
 * returns the full broadcast shape (so `tf.grad` of a (B, T, C) x (C, F) matMul throws); this one
 * reduces each input's gradient over the batch dims it was broadcast along, and computes the common
 * case -- a shared weight matrix under a batched input -- as one folded 2-D GEMM:
 *   d op(B) = sum_i op(A_i)^T dY_i = A2^T dY2,  A2 = A as (batch*M, K), dY2 = dY as (batch*M, N).
 * Formulas for the four transpose cases as tfjs-core's `BatchMatMul_grad.ts`.
 */
import * as tf from "@tensorflow/tfjs"
import type { GradConfig, NamedAttrMap, Tensor } from "@tensorflow/tfjs"
import { sizeOf } from "./WasmBackend.js"

/** dy reduced over the broadcast batch dims of an input of `shape`. */
const reduceTo = (g: Tensor, shape: number[]): Tensor => {
  if (g.shape.join(",") === shape.join(",")) return g
  const gBatch = g.shape.slice(0, -2)
  const inBatch = shape.slice(0, -2)
  const padded = [...new Array<number>(gBatch.length - inBatch.length).fill(1), ...inBatch]
  const axes = tf.backend_util.getReductionAxes(padded, gBatch)
  const summed = axes.length > 0 ? tf.sum(g, axes, true) : g
  return tf.reshape(summed, shape)
}

export const batchMatMulGradConfig: GradConfig = {
  kernelName: tf.BatchMatMul,
  inputsToSave: ["a", "b"],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const g = dy as Tensor
    const [a, b] = saved as [Tensor, Tensor]
    const { transposeA: ta, transposeB: tb } = attrs as unknown as { transposeA: boolean; transposeB: boolean }
    const outBatch = sizeOf(g.shape.slice(0, -2))
    const aBatch = sizeOf(a.shape.slice(0, -2))
    const bBatch = sizeOf(b.shape.slice(0, -2))
    const rows = (x: Tensor) => x.shape[x.shape.length - 2]!
    const cols = (x: Tensor) => x.shape[x.shape.length - 1]!
    // Shared B under an untransposed batched A: fold the batch into rows.
    const foldB = bBatch === 1 && outBatch > 1 && aBatch === outBatch && !ta
    const da = (): Tensor => {
      const full = ta
        ? tb
          ? tf.matMul(b, g, true, true)
          : tf.matMul(b, g, false, true)
        : tb
          ? tf.matMul(g, b, false, false)
          : tf.matMul(g, b, false, true)
      return reduceTo(full, a.shape)
    }
    const db = (): Tensor => {
      if (foldB) {
        const a2 = tf.reshape(a, [outBatch * rows(a), cols(a)]) // (batch*M, K)
        const g2 = tf.reshape(g, [outBatch * rows(g), cols(g)]) // (batch*M, N)
        return tf.reshape(tb ? tf.matMul(g2, a2, true, false) : tf.matMul(a2, g2, true, false), b.shape)
      }
      const full = ta
        ? tb
          ? tf.matMul(g, a, true, true)
          : tf.matMul(a, g, false, false)
        : tb
          ? tf.matMul(g, a, true, false)
          : tf.matMul(a, g, true, false)
      return reduceTo(full, b.shape)
    }
    return { a: da, b: db }
  }
}
