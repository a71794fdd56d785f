/**
 * Attention helpers shared by every model family: the head split, and causal self-attention over
 * a whole right-padded sequence (the engine's `Ops.causalAttention`, stock ops). Training on the
 * addon paths uses `Ops.packedAttention` instead; decoding attends through a `KvCache`.
 */
import { Ops, tf } from "./Tfjs.js"

/** (B*T, H*hd) rows, heads side by side -> (B, H, T, hd). Rank 4: rank-5 transposes are a wasm slow path. */
export const splitHeads = (x: tf.Tensor, B: number, T: number, H: number, hd: number): tf.Tensor4D =>
  tf.transpose(tf.reshape(x, [B, T, H, hd]), [0, 2, 1, 3]) as tf.Tensor4D

/** softmax(q k^T + causal mask) v for q, k, v (B, H, T, hd), q already scaled by 1/sqrt(hd) -> (B*T, H*hd). */
export const causalSelfAttention = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor2D => Ops.causalAttention(q, k, v)
