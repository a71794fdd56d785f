/**
 * Fused ops with gradients. Each runs duet's fused wasm kernel when the active backend has it
 * (after `Engine.init` on wasm) and otherwise composes stock tfjs ops with the same formula, so
 * callers need not branch on the backend. `Ops.fused()` says which are fused right now.
 */
import * as tf from "@tensorflow/tfjs"
import type { Tensor, Tensor1D } from "@tensorflow/tfjs"
import { ATTENTION, GELU, LAYER_NORM, geluForms } from "./internal/FusedKernels.js"

/**
 * GELU forms (Hendrycks & Gimpel 2016, sec. 2), both written y = x * sigmoid(a(x)):
 * - "tanh": a = 2 sqrt(2/pi) (x + 0.044715 x^3), i.e. 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
 *   GPT-2's `gelu_new` and torch `gelu(approximate="tanh")`;
 * - "sigmoid": a = 1.702 x, the cheaper approximation (within 0.02 of the exact GELU).
 */
export type GeluForm = "tanh" | "sigmoid"

const hasKernel = (name: string): boolean => tf.getKernel(name, tf.getBackend()) !== undefined

/** Which fused kernels the active backend runs (false: the composite fallback). */
export const fused = (): { gelu: boolean; layerNorm: boolean; attention: boolean } => ({
  gelu: hasKernel(GELU),
  layerNorm: hasKernel(LAYER_NORM),
  attention: hasKernel(ATTENTION)
})

const TANH_A = 1.5957691216057308 // 2 sqrt(2/pi)
const CUBIC = 0.044715
const SIGMOID_A = 1.702

const geluComposite = (x: Tensor, form: GeluForm): Tensor =>
  tf.customGrad((...args: Array<Tensor | tf.GradSaveFunc>) => {
    const xt = args[0] as Tensor
    const save = args[1] as tf.GradSaveFunc
    const a = form === "sigmoid" ? tf.mul(xt, SIGMOID_A) : tf.mul(tf.add(xt, tf.mul(tf.mul(tf.square(xt), xt), CUBIC)), TANH_A)
    const s = tf.sigmoid(a)
    save([xt, s])
    return {
      value: tf.mul(xt, s),
      // dy * (s + x s (1 - s) a'(x))
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
        const [xs, ss] = saved as [Tensor, Tensor]
        const da = form === "sigmoid" ? tf.scalar(SIGMOID_A) : tf.mul(tf.add(tf.mul(tf.square(xs), 3 * CUBIC), 1), TANH_A)
        return tf.mul(dy as Tensor, tf.add(ss, tf.mul(tf.mul(tf.mul(xs, ss), tf.sub(1, ss)), da)))
      }
    }
  })(x)

/** GELU, elementwise, with its gradient; float32. Default form "tanh" (GPT-2). */
export const gelu = <T extends Tensor>(x: T, form: GeluForm = "tanh"): T => {
  if (form !== "tanh" && form !== "sigmoid") throw new Error(`Ops.gelu: form must be "tanh" or "sigmoid", got ${String(form)}`)
  if (hasKernel(GELU) && x.dtype === "float32") {
    return tf.engine().runKernel(GELU, { x }, { form: geluForms[form] }) as T
  }
  return geluComposite(x, form) as T
}

/**
 * LayerNorm over the last axis (Ba et al. 2016), biased variance as torch.nn.LayerNorm:
 * y = (x - mean) / sqrt(var + eps) * gamma + beta. x: (..., C); gamma, beta: (C). With gradients
 * in x, gamma and beta.
 */
export const layerNorm = <T extends Tensor>(x: T, gamma: Tensor1D, beta: Tensor1D | undefined, eps = 1e-5): T => {
  const C = x.shape[x.shape.length - 1]
  if (gamma.shape.length !== 1 || gamma.shape[0] !== C) throw new Error(`Ops.layerNorm: gamma shape [${gamma.shape}] must be [${C}]`)
  if (beta !== undefined && (beta.shape.length !== 1 || beta.shape[0] !== C)) throw new Error(`Ops.layerNorm: beta shape [${beta.shape}] must be [${C}]`)
  if (!(eps >= 0)) throw new Error(`Ops.layerNorm: eps must be >= 0, got ${eps}`)
  if (hasKernel(LAYER_NORM) && x.dtype === "float32") {
    const inputs = beta === undefined ? { x, gamma } : { x, gamma, beta }
    return tf.engine().runKernel(LAYER_NORM, inputs, { eps }) as T
  }
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true)
    const centered = tf.sub(x, mean)
    const variance = tf.mean(tf.square(centered), -1, true)
    const scaled = tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma)
    return (beta === undefined ? scaled : tf.add(scaled, beta)) as T
  })
}

/**
 * Causal self-attention over packed sequences, the layout of flash-attn's varlen kernels: q, k, v
 * are (N, heads * headDim) float32 with heads side by side, and sequence r is rows
 * starts[r]..starts[r+1]-1 (starts: R + 1 offsets from 0 to N, non-decreasing; no padding rows).
 * q comes scaled (by 1/sqrt(headDim) for the usual attention). Returns y (N, heads * headDim),
 * y_i = sum_{j <= i in i's sequence} softmax_j(q_i . k_j) v_j, differentiable in q, k and v.
 * The fused kernel (one pass per sequence and head, forward and backward) where the addon is
 * loaded; otherwise the same formula in stock ops on a padded copy (the reference in tests).
 */
export const packedAttention = (q: Tensor, k: Tensor, v: Tensor, starts: ReadonlyArray<number>, heads: number): Tensor => {
  const [N, C] = q.shape as [number, number]
  if (q.rank !== 2 || k.shape.join(",") !== q.shape.join(",") || v.shape.join(",") !== q.shape.join(",")) {
    throw new Error(`Ops.packedAttention: q, k, v must be one (N, C) shape, got [${q.shape}], [${k.shape}], [${v.shape}]`)
  }
  if (!Number.isInteger(heads) || heads < 1 || C % heads !== 0) throw new Error(`Ops.packedAttention: heads must divide ${C}, got ${heads}`)
  if (starts.length < 1 || starts[0] !== 0 || starts[starts.length - 1] !== N || starts.some((s, r) => r > 0 && s < starts[r - 1]!)) {
    throw new Error(`Ops.packedAttention: starts must rise from 0 to the ${N} rows of q, got [${starts.slice(0, 8).join(", ")}${starts.length > 8 ? ", ..." : ""}]`)
  }
  if (hasKernel(ATTENTION) && q.dtype === "float32") return tf.engine().runKernel(ATTENTION, { q, k, v }, { starts: [...starts], heads }) as Tensor
  return packedAttentionComposite(q, k, v, starts, heads)
}

/** Additive causal masks (T, T): 0 on and below the diagonal, -1e9 above (exp underflows to exactly 0). */
const causalMasks = new Map<number, Float32Array>()
const causalMask = (T: number): tf.Tensor2D => {
  let m = causalMasks.get(T)
  if (m === undefined) {
    m = new Float32Array(T * T)
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9
    causalMasks.set(T, m)
  }
  return tf.tensor2d(m, [T, T])
}

/**
 * softmax(q k^T + causal mask) v in stock ops (Vaswani et al. 2017, eq. 1) for q, k, v (B, H, T, hd)
 * of right-padded rows (padding last, so it never reaches an earlier position), q already scaled;
 * returns (B*T, H*hd), heads side by side again.
 */
export const causalAttention = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor2D => {
  const [B, H, T, hd] = q.shape
  const att = tf.softmax(tf.add(tf.matMul(q, k, false, true), causalMask(T))) // (B, H, T, T)
  return tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [B * T, H * hd]) as tf.Tensor2D // (B*T, H*hd)
}

/** Stock ops: gather the rows into (R, T) padded rows, `causalAttention`, gather the real rows back. */
const packedAttentionComposite = (q: Tensor, k: Tensor, v: Tensor, starts: ReadonlyArray<number>, heads: number): Tensor =>
  tf.tidy(() => {
    const [N, C] = q.shape as [number, number]
    const R = starts.length - 1
    const T = Math.max(1, ...starts.slice(1).map((s, r) => s - starts[r]!))
    const hd = C / heads
    if (N === 0) return tf.mul(tf.add(tf.add(q, k), v), 0) // (0, C), connected to q, k, v for tf.grads
    // padded slot (r, t) reads row starts[r] + t, or row 0 past the sequence (causal: never attended to)
    const padIdx = new Int32Array(R * T)
    const realIdx = new Int32Array(N)
    for (let r = 0; r < R; r++) {
      for (let t = 0; t < T; t++) padIdx[r * T + t] = starts[r]! + t < starts[r + 1]! ? starts[r]! + t : 0
      for (let i = starts[r]!; i < starts[r + 1]!; i++) realIdx[i] = r * T + (i - starts[r]!)
    }
    const pad = tf.tensor1d(padIdx, "int32")
    const heads4 = (x: Tensor) => tf.transpose(tf.reshape(tf.gather(x, pad), [R, T, heads, hd]), [0, 2, 1, 3]) as tf.Tensor4D // (R, H, T, hd)
    return tf.gather(causalAttention(heads4(q), heads4(k), heads4(v)), tf.tensor1d(realIdx, "int32"))
  })
