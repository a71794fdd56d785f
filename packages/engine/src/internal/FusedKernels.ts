/**
 * Fused kernels behind `Ops`, registered for wasm, and their gradients:
 * - DuetGelu / DuetGeluGrad (OpenBLAS addon only: the loops need native exp to beat the stock
 *   sigmoid; without it `Ops.gelu` composes stock ops).
 * - DuetLayerNorm / DuetLayerNormGrad: native loops with the addon, JS loops on the heap without.
 * - DuetSoftmaxGrad: the gradient of tf.softmax over the last axis in one pass (tfjs-core's
 *   gradient is four ops), dx = y (dy - sum(dy y)); native or JS.
 * - DuetAttention / DuetAttentionGrad: causal self-attention over packed sequences (no padding, no
 *   head transposes), forward and backward, each one pass per (sequence, head); addon only.
 * Formulas are stated in native/duet_blas.cc and in Ops.ts.
 */
import * as tf from "@tensorflow/tfjs"
import type { GradConfig, KernelFunc, NamedAttrMap, Tensor, TensorInfo } from "@tensorflow/tfjs"
import type { NativeAddon } from "./NativeAddon.js"
import { heapF32, offsetOf, sizeOf, type WasmBackend } from "./WasmBackend.js"

export const GELU = "DuetGelu"
export const GELU_GRAD = "DuetGeluGrad"
export const LAYER_NORM = "DuetLayerNorm"
export const LAYER_NORM_GRAD = "DuetLayerNormGrad"
export const SOFTMAX_GRAD = "DuetSoftmaxGrad"
export const ATTENTION = "DuetAttention"
export const ATTENTION_GRAD = "DuetAttentionGrad"

/** GELU forms as the addon numbers them. */
export const geluForms = { sigmoid: 0, tanh: 1 } as const

interface Args<I> {
  inputs: I
  backend: WasmBackend
  attrs: NamedAttrMap
}

const requireF32 = (kernel: string, ts: Record<string, TensorInfo | undefined>): void => {
  for (const [name, t] of Object.entries(ts)) {
    if (t !== undefined && t.dtype !== "float32") throw new Error(`${kernel}: ${name} must be float32, got ${t.dtype}`)
  }
}

const heapBuffer = (backend: WasmBackend): ArrayBuffer => heapF32(backend).buffer as ArrayBuffer

const geluKernel =
  (addon: NativeAddon): KernelFunc =>
  (args) => {
    const { inputs, backend, attrs } = args as unknown as Args<{ x: TensorInfo }>
    requireF32(GELU, inputs)
    const out = backend.makeOutput(inputs.x.shape, "float32")
    const n = sizeOf(inputs.x.shape)
    if (n > 0) addon.gelu(heapBuffer(backend), offsetOf(backend, inputs.x), offsetOf(backend, out), n, attrs.form as number)
    return out
  }

const geluGradKernel =
  (addon: NativeAddon): KernelFunc =>
  (args) => {
    const { inputs, backend, attrs } = args as unknown as Args<{ dy: TensorInfo; x: TensorInfo }>
    requireF32(GELU_GRAD, inputs)
    const out = backend.makeOutput(inputs.x.shape, "float32")
    const n = sizeOf(inputs.x.shape)
    if (n > 0) {
      addon.geluGrad(heapBuffer(backend), offsetOf(backend, inputs.dy), offsetOf(backend, inputs.x), offsetOf(backend, out), n, attrs.form as number)
    }
    return out
  }

type LnInputs = { x: TensorInfo; gamma: TensorInfo; beta?: TensorInfo }

const lnShape = (kernel: string, x: TensorInfo, gamma: TensorInfo): { rows: number; cols: number } => {
  const cols = x.shape[x.shape.length - 1] ?? 1
  if (gamma.shape.length !== 1 || gamma.shape[0] !== cols) {
    throw new Error(`${kernel}: gamma shape [${gamma.shape}] must be [${cols}] (the last axis of x [${x.shape}])`)
  }
  return { rows: cols === 0 ? 0 : sizeOf(x.shape) / cols, cols }
}

/** LayerNorm rows in JS on the heap (row statistics in float64, as the native loop). */
const layerNormJs = (h: Float32Array, xo: number, go: number, bo: number, yo: number, rows: number, cols: number, eps: number): void => {
  for (let r = 0; r < rows; r++) {
    const x0 = xo + r * cols
    const y0 = yo + r * cols
    let sum = 0
    for (let c = 0; c < cols; c++) sum += h[x0 + c]!
    const mean = sum / cols
    let sq = 0
    for (let c = 0; c < cols; c++) {
      const d = h[x0 + c]! - mean
      sq += d * d
    }
    const rstd = 1 / Math.sqrt(sq / cols + eps)
    for (let c = 0; c < cols; c++) h[y0 + c] = (h[x0 + c]! - mean) * rstd * h[go + c]! + (bo >= 0 ? h[bo + c]! : 0)
  }
}

const layerNormGradJs = (
  h: Float32Array,
  dyo: number,
  xo: number,
  go: number,
  dxo: number,
  dgo: number,
  dbo: number,
  rows: number,
  cols: number,
  eps: number
): void => {
  const dg = new Float64Array(cols)
  const db = new Float64Array(cols)
  const xhat = new Float64Array(cols)
  for (let r = 0; r < rows; r++) {
    const x0 = xo + r * cols
    const d0 = dyo + r * cols
    let sum = 0
    for (let c = 0; c < cols; c++) sum += h[x0 + c]!
    const mean = sum / cols
    let sq = 0
    for (let c = 0; c < cols; c++) {
      const d = h[x0 + c]! - mean
      sq += d * d
    }
    const rstd = 1 / Math.sqrt(sq / cols + eps)
    let sg = 0
    let sgx = 0
    for (let c = 0; c < cols; c++) {
      const xh = (h[x0 + c]! - mean) * rstd
      const dy = h[d0 + c]!
      const g = dy * h[go + c]!
      xhat[c] = xh
      sg += g
      sgx += g * xh
      dg[c]! += dy * xh
      db[c]! += dy
    }
    const mg = sg / cols
    const mgx = sgx / cols
    const dx0 = dxo + r * cols
    for (let c = 0; c < cols; c++) h[dx0 + c] = rstd * (h[d0 + c]! * h[go + c]! - mg - xhat[c]! * mgx)
  }
  for (let c = 0; c < cols; c++) {
    h[dgo + c] = dg[c]!
    h[dbo + c] = db[c]!
  }
}

const layerNormKernel =
  (addon: NativeAddon | undefined): KernelFunc =>
  (args) => {
    const { inputs, backend, attrs } = args as unknown as Args<LnInputs>
    const { x, gamma, beta } = inputs
    requireF32(LAYER_NORM, { x, gamma, beta })
    const { rows, cols } = lnShape(LAYER_NORM, x, gamma)
    if (beta !== undefined && (beta.shape.length !== 1 || beta.shape[0] !== cols)) {
      throw new Error(`${LAYER_NORM}: beta shape [${beta.shape}] must be [${cols}]`)
    }
    const out = backend.makeOutput(x.shape, "float32")
    if (rows === 0) return out
    const eps = attrs.eps as number
    const xo = offsetOf(backend, x)
    const go = offsetOf(backend, gamma)
    const bo = beta === undefined ? -1 : offsetOf(backend, beta)
    const yo = offsetOf(backend, out)
    if (addon !== undefined) addon.layerNorm(heapBuffer(backend), xo, go, bo, yo, rows, cols, eps)
    else layerNormJs(heapF32(backend), xo, go, bo, yo, rows, cols, eps)
    return out
  }

const layerNormGradKernel =
  (addon: NativeAddon | undefined): KernelFunc =>
  (args) => {
    const { inputs, backend, attrs } = args as unknown as Args<{ dy: TensorInfo; x: TensorInfo; gamma: TensorInfo }>
    const { dy, x, gamma } = inputs
    requireF32(LAYER_NORM_GRAD, inputs)
    const { rows, cols } = lnShape(LAYER_NORM_GRAD, x, gamma)
    const dx = backend.makeOutput(x.shape, "float32")
    const dg = backend.makeOutput([cols], "float32")
    const db = backend.makeOutput([cols], "float32")
    const eps = attrs.eps as number
    if (rows === 0) {
      heapF32(backend).fill(0, offsetOf(backend, dg), offsetOf(backend, dg) + cols)
      heapF32(backend).fill(0, offsetOf(backend, db), offsetOf(backend, db) + cols)
      return [dx, dg, db]
    }
    const o = [dy, x, gamma, dx, dg, db].map((t) => offsetOf(backend, t)) as [number, number, number, number, number, number]
    if (addon !== undefined) addon.layerNormGrad(heapBuffer(backend), ...o, rows, cols, eps)
    else layerNormGradJs(heapF32(backend), ...o, rows, cols, eps)
    return [dx, dg, db]
  }

const softmaxGradJs = (h: Float32Array, dyo: number, yo: number, dxo: number, rows: number, cols: number): void => {
  for (let r = 0; r < rows; r++) {
    const o = r * cols
    let s = 0
    for (let c = 0; c < cols; c++) s += h[dyo + o + c]! * h[yo + o + c]!
    for (let c = 0; c < cols; c++) h[dxo + o + c] = h[yo + o + c]! * (h[dyo + o + c]! - s)
  }
}

const softmaxGradKernel =
  (addon: NativeAddon | undefined): KernelFunc =>
  (args) => {
    const { inputs, backend } = args as unknown as Args<{ dy: TensorInfo; y: TensorInfo }>
    const { dy, y } = inputs
    requireF32(SOFTMAX_GRAD, inputs)
    if (dy.shape.join(",") !== y.shape.join(",")) throw new Error(`${SOFTMAX_GRAD}: dy [${dy.shape}] and y [${y.shape}] differ`)
    const cols = y.shape[y.shape.length - 1] ?? 1
    const rows = cols === 0 ? 0 : sizeOf(y.shape) / cols
    const out = backend.makeOutput(y.shape, "float32")
    if (rows === 0) return out
    const o = [dy, y, out].map((t) => offsetOf(backend, t)) as [number, number, number]
    if (addon !== undefined) addon.softmaxGrad(heapBuffer(backend), ...o, rows, cols)
    else softmaxGradJs(heapF32(backend), ...o, rows, cols)
    return out
  }

type AttentionAddon = Required<Pick<NativeAddon, "packedAttention" | "packedAttentionGrad">>

/** starts (R + 1) and heads from the attrs, checked against q (N, heads * headDim). */
const attentionShape = (kernel: string, q: TensorInfo, attrs: NamedAttrMap): { starts: Int32Array; heads: number; headDim: number } => {
  const starts = Int32Array.from(attrs.starts as number[])
  const heads = attrs.heads as number
  const [N, C] = q.shape as [number, number]
  if (q.shape.length !== 2 || !(heads >= 1) || C % heads !== 0) throw new Error(`${kernel}: q [${q.shape}] must be (N, heads * headDim) with heads ${heads}`)
  if (starts.length < 1 || starts[starts.length - 1] !== N) throw new Error(`${kernel}: starts must end at the ${N} rows of q`)
  return { starts, heads, headDim: C / heads }
}

const attentionKernel =
  (addon: AttentionAddon): KernelFunc =>
  (args) => {
    const { inputs, backend, attrs } = args as unknown as Args<{ q: TensorInfo; k: TensorInfo; v: TensorInfo }>
    const { q, k, v } = inputs
    requireF32(ATTENTION, inputs)
    for (const t of [k, v]) if (t.shape.join(",") !== q.shape.join(",")) throw new Error(`${ATTENTION}: q, k, v shapes differ: [${q.shape}], [${t.shape}]`)
    const { starts, heads, headDim } = attentionShape(ATTENTION, q, attrs)
    const out = backend.makeOutput(q.shape, "float32")
    if (sizeOf(q.shape) === 0) return out
    const [qo, ko, vo, oo] = [q, k, v, out].map((t) => offsetOf(backend, t)) as [number, number, number, number]
    addon.packedAttention(heapBuffer(backend), qo, ko, vo, oo, starts, heads, headDim)
    return out
  }

const attentionGradKernel =
  (addon: AttentionAddon): KernelFunc =>
  (args) => {
    const { inputs, backend, attrs } = args as unknown as Args<{ dy: TensorInfo; q: TensorInfo; k: TensorInfo; v: TensorInfo }>
    requireF32(ATTENTION_GRAD, inputs)
    const { starts, heads, headDim } = attentionShape(ATTENTION_GRAD, inputs.q, attrs)
    const grads = [0, 1, 2].map(() => backend.makeOutput(inputs.q.shape, "float32"))
    if (sizeOf(inputs.q.shape) === 0) return grads
    const o = [inputs.dy, inputs.q, inputs.k, inputs.v, ...grads].map((t) => offsetOf(backend, t)) as [number, number, number, number, number, number, number]
    addon.packedAttentionGrad(heapBuffer(backend), ...o, starts, heads, headDim)
    return grads
  }

export const attentionGradConfig: GradConfig = {
  kernelName: ATTENTION,
  inputsToSave: ["q", "k", "v"],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const [dq, dk, dv] = tf.engine().runKernel(ATTENTION_GRAD, { dy: dy as Tensor, q: saved[0]!, k: saved[1]!, v: saved[2]! }, attrs) as Tensor[]
    return { q: () => dq!, k: () => dk!, v: () => dv! }
  }
}

/**
 * Softmax's gradient: the fused kernel where the active backend has it and the softmax is over
 * the last axis; tfjs-core's formula (dy y - sum(dy y) y) otherwise.
 */
export const softmaxGradConfig: GradConfig = {
  kernelName: tf.Softmax,
  outputsToSave: [true],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const [y] = saved as [Tensor]
    const dim = attrs.dim as number
    const last = dim === -1 || dim === y.rank - 1
    if (last && y.dtype === "float32" && tf.getKernel(SOFTMAX_GRAD, tf.getBackend()) !== undefined) {
      return { logits: () => tf.engine().runKernel(SOFTMAX_GRAD, { dy: dy as Tensor, y }, {}) as Tensor }
    }
    const dyTimesY = tf.mul(dy as Tensor, y)
    return { logits: () => tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, [dim], true), y)) }
  }
}

export const geluGradConfig: GradConfig = {
  kernelName: GELU,
  inputsToSave: ["x"],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => ({
    x: () => tf.engine().runKernel(GELU_GRAD, { dy: dy as Tensor, x: saved[0]! }, attrs) as Tensor
  })
}

export const layerNormGradConfig: GradConfig = {
  kernelName: LAYER_NORM,
  inputsToSave: ["x", "gamma"],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const [dx, dgamma, dbeta] = tf.engine().runKernel(LAYER_NORM_GRAD, { dy: dy as Tensor, x: saved[0]!, gamma: saved[1]! }, attrs) as Tensor[]
    return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta! }
  }
}

/** The fused kernels for the wasm backend, given the addon when it loaded. */
export const fusedKernels = (addon: NativeAddon | undefined): Array<{ name: string; kernelFunc: KernelFunc }> => [
  ...(addon !== undefined
    ? [
        { name: GELU, kernelFunc: geluKernel(addon) },
        { name: GELU_GRAD, kernelFunc: geluGradKernel(addon) }
      ]
    : []),
  ...(addon?.packedAttention !== undefined && addon.packedAttentionGrad !== undefined
    ? [
        { name: ATTENTION, kernelFunc: attentionKernel(addon as AttentionAddon) },
        { name: ATTENTION_GRAD, kernelFunc: attentionGradKernel(addon as AttentionAddon) }
      ]
    : []),
  { name: LAYER_NORM, kernelFunc: layerNormKernel(addon) },
  { name: LAYER_NORM_GRAD, kernelFunc: layerNormGradKernel(addon) },
  { name: SOFTMAX_GRAD, kernelFunc: softmaxGradKernel(addon) }
]

/** Gradients of the fused kernels (registered once; harmless where the kernels are absent). */
export const fusedGradients: GradConfig[] = [geluGradConfig, layerNormGradConfig, attentionGradConfig]
