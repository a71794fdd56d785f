/**
 * Fused ops with gradients. Each runs duet's fused wasm kernel when the active backend has it
 * (after `Engine.init` on wasm) and otherwise composes stock tfjs ops with the same formula, so
 * callers need not branch on the backend. `Ops.fused()` says which are fused right now.
 */
import * as tf from "@tensorflow/tfjs"
import type { Tensor, Tensor1D } from "@tensorflow/tfjs"
import { GELU, LAYER_NORM, geluForms } from "./internal/FusedKernels.js"

/**
 * GELU forms (Hendrycks & Gimpel 2016, sec. 2), both written y = x * sigmoid(a(x)):
 * - "tanh": a = 2 sqrt(2/pi) (x + 0.044715 x^3), i.e. 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
 *   GPT-2's `gelu_new` and torch `gelu(approximate="tanh")`;
 * - "sigmoid": a = 1.702 x, the cheaper approximation (within 0.02 of the exact GELU).
 */
export type GeluForm = "tanh" | "sigmoid"

const hasKernel = (name: string): boolean => tf.getKernel(name, tf.getBackend()) !== undefined

/** Which fused kernels the active backend runs (false: the composite fallback). */
export const fused = (): { gelu: boolean; layerNorm: boolean } => ({ gelu: hasKernel(GELU), layerNorm: hasKernel(LAYER_NORM) })

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
