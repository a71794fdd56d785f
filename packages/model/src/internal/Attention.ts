/**
 * Causal self-attention over a whole sequence (Vaswani et al. 2017, eq. 1), shared by every model
 * family; decoding attends through a `KvCache` instead.
 */
import { tf } from "./Tfjs.js"

/** Additive causal masks (T, T): 0 on and below the diagonal, -1e9 above (exp underflows to exactly 0). */
const causalMasks = new Map<number, Float32Array>()
export const causalMask = (T: number): tf.Tensor2D => {
  let m = causalMasks.get(T)
  if (m === undefined) {
    m = new Float32Array(T * T)
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9
    causalMasks.set(T, m)
  }
  return tf.tensor2d(m, [T, T])
}

/** (B*T, H*hd) rows, heads side by side -> (B, H, T, hd). Rank 4: rank-5 transposes are a wasm slow path. */
export const splitHeads = (x: tf.Tensor, B: number, T: number, H: number, hd: number): tf.Tensor4D =>
  tf.transpose(tf.reshape(x, [B, T, H, hd]), [0, 2, 1, 3]) as tf.Tensor4D

/**
 * softmax(q k^T + causal mask) v for q, k, v (B, H, T, hd), q already scaled by 1/sqrt(hd);
 * returns (B*T, H*hd), heads side by side again.
 */
export const causalSelfAttention = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor2D => {
  const [B, H, T, hd] = q.shape
  const att = tf.softmax(tf.add(tf.matMul(q, k, false, true), causalMask(T))) // (B, H, T, T)
  return tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [B * T, H * hd]) as tf.Tensor2D // (B*T, H*hd)
}
