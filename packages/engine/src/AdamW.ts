/**
 * AdamW as one fused pass over all parameters: Adam (Kingma & Ba 2015, Alg. 1) with decoupled
 * weight decay (Loshchilov & Hutter 2019, Alg. 2), as `torch.optim.AdamW`, after clipping the
 * gradients to a global L2 norm as `torch.nn.utils.clip_grad_norm_`.
 *
 * Same data and semantics as @duet/model's composite AdamW (state = step + moments as tf.Variables
 * by parameter name), so it drops in. On wasm it reads gradients and updates parameters and
 * moments in place on the heap, in float64 arithmetic rounded to float32 once per value: no tfjs
 * op is dispatched (the composite launches ~15 per parameter). Variables whose buffer is shared
 * with another tensor are written to a fresh buffer and assigned instead. On other backends, and
 * with the stock kernels (`Engine.withStockKernels`, kernels: "stock"), it runs the composite formula.
 */
import * as tf from "@tensorflow/tfjs"
import type { Tensor, Variable } from "@tensorflow/tfjs"
import { InvalidArgumentError } from "@duet/core"
import { activeAddon, duetWasmKernelsActive } from "./internal/Installer.js"
import { assertWasmInternals, heapF32, offsetOf, sizeOf, type WasmBackend } from "./internal/WasmBackend.js"

export interface AdamWConfig {
  readonly lr: number
  /** First-moment decay (0.9). */
  readonly beta1: number
  /** Second-moment decay (0.999). */
  readonly beta2: number
  /** Denominator epsilon (1e-8). */
  readonly eps: number
  /** Decoupled weight decay, applied where `decays(name, shape)`. */
  readonly weightDecay: number
  /** Clip to this global gradient L2 norm; null: no clipping. */
  readonly maxGradNorm: number | null
}

export interface AdamWState {
  step: number
  readonly m: Map<string, Variable>
  readonly v: Map<string, Variable>
}

/** nanoGPT's rule (as @duet/model): matrices named *.weight decay; biases and gains do not. */
export const decays = (name: string, shape: ReadonlyArray<number>): boolean => shape.length >= 2 && name.endsWith(".weight")

/** Zero moments for every parameter, step 0. */
export const init = (params: ReadonlyMap<string, Variable>): AdamWState => {
  const zero = (p: Variable): Variable => {
    const z = tf.zeros(p.shape, "float32")
    const x = tf.variable(z, false)
    z.dispose() // the variable then owns its buffer alone, so updates go in place
    return x
  }
  const zeros = () => new Map([...params].map(([name, p]) => [name, zero(p)] as const))
  return { step: 0, m: zeros(), v: zeros() }
}

const check = (config: AdamWConfig, lr: number): void => {
  if (!(lr >= 0)) throw new InvalidArgumentError("AdamW.lr", `must be >= 0, got ${lr}`)
  if (!(config.beta1 >= 0 && config.beta1 < 1)) throw new InvalidArgumentError("AdamW.beta1", `must be in [0, 1), got ${config.beta1}`)
  if (!(config.beta2 >= 0 && config.beta2 < 1)) throw new InvalidArgumentError("AdamW.beta2", `must be in [0, 1), got ${config.beta2}`)
  if (!(config.eps > 0)) throw new InvalidArgumentError("AdamW.eps", `must be > 0, got ${config.eps}`)
  if (!(config.weightDecay >= 0)) throw new InvalidArgumentError("AdamW.weightDecay", `must be >= 0, got ${config.weightDecay}`)
  if (config.maxGradNorm !== null && !(config.maxGradNorm > 0)) {
    throw new InvalidArgumentError("AdamW.maxGradNorm", `must be > 0 or null, got ${config.maxGradNorm}`)
  }
}

interface Slot {
  readonly name: string
  readonly p: Variable
  readonly g: Tensor
  readonly m: Variable
  readonly v: Variable
}

const slots = (params: ReadonlyMap<string, Variable>, grads: ReadonlyMap<string, Tensor>, state: AdamWState): Slot[] => {
  for (const name of grads.keys()) if (!params.has(name)) throw new InvalidArgumentError(`grads.${name}`, "is not a parameter")
  const out: Slot[] = []
  for (const [name, p] of params) {
    const g = grads.get(name)
    if (g === undefined) continue // unused parameter: no update, as torch skips grad=None
    const m = state.m.get(name)
    const v = state.v.get(name)
    if (m === undefined || v === undefined) throw new InvalidArgumentError(`state.${name}`, "has no moments (use AdamW.init)")
    if (g.shape.join(",") !== p.shape.join(",")) throw new InvalidArgumentError(`grads.${name}`, `shape [${g.shape}] != parameter shape [${p.shape}]`)
    out.push({ name, p, g, m, v })
  }
  return out
}

/** torch: clip_coef = max_norm / (total_norm + 1e-6), clamped to at most 1. */
const clipScale = (norm: number, maxGradNorm: number | null): number => (maxGradNorm === null ? 1 : Math.min(1, maxGradNorm / (norm + 1e-6)))

const onWasm = (be: WasmBackend | undefined, ts: Tensor[]): be is WasmBackend =>
  be !== undefined && ts.every((t) => t.dtype === "float32" && be.dataIdMap.has(t.dataId))

/** A buffer to write `x`'s new value into: its own when nobody else shares it. */
const target = (be: WasmBackend, x: Variable): { offset: number; commit: () => void } => {
  if (be.refCount(x.dataId) === 1) return { offset: offsetOf(be, x), commit: () => undefined }
  const info = be.makeOutput(x.shape, "float32")
  return {
    offset: offsetOf(be, info),
    commit: () => {
      const t = tf.engine().makeTensorFromTensorInfo(info)
      x.assign(t)
      t.dispose()
    }
  }
}

const fusedApply = (be: WasmBackend, ss: Slot[], config: AdamWConfig, lr: number, t: number, decaysFn: typeof decays): number => {
  const addon = activeAddon()
  let h = heapF32(be)
  let sq = 0
  if (addon !== undefined) {
    sq = addon.sumSquares(h.buffer as ArrayBuffer, Int32Array.from(ss, (s) => offsetOf(be, s.g)), Int32Array.from(ss, (s) => s.g.size))
  } else {
    for (const s of ss) {
      const go = offsetOf(be, s.g)
      const n = s.g.size
      for (let i = 0; i < n; i++) {
        const x = h[go + i]!
        sq += x * x
      }
    }
  }
  const norm = Math.sqrt(sq)
  const scale = clipScale(norm, config.maxGradNorm)
  const { beta1: b1, beta2: b2, eps, weightDecay: wd } = config
  const bc2 = Math.sqrt(1 - b2 ** t)
  const stepSize = lr / (1 - b1 ** t)
  for (const s of ss) {
    const targets = [target(be, s.p), target(be, s.m), target(be, s.v)] as const
    h = heapF32(be) // allocation may have grown the heap
    const [po, mo, vo] = [offsetOf(be, s.p), offsetOf(be, s.m), offsetOf(be, s.v)]
    const go = offsetOf(be, s.g)
    const [pt, mt, vt] = targets.map((x) => x.offset) as [number, number, number]
    const keep = wd > 0 && decaysFn(s.name, s.p.shape) ? 1 - lr * wd : 1
    const n = sizeOf(s.p.shape)
    if (addon !== undefined) {
      addon.adamW(h.buffer as ArrayBuffer, n, go, po, mo, vo, pt, mt, vt, scale, b1, b2, keep, stepSize, bc2, eps)
      for (const x of targets) x.commit()
      continue
    }
    for (let i = 0; i < n; i++) {
      const g = h[go + i]! * scale
      const m = b1 * h[mo + i]! + (1 - b1) * g
      const v = b2 * h[vo + i]! + (1 - b2) * g * g
      h[mt + i] = m
      h[vt + i] = v
      h[pt + i] = h[po + i]! * keep - (stepSize * m) / (Math.sqrt(v) / bc2 + eps)
    }
    for (const x of targets) x.commit()
  }
  return norm
}

const compositeApply = (ss: Slot[], config: AdamWConfig, lr: number, t: number, decaysFn: typeof decays): number => {
  const { beta1: b1, beta2: b2, eps, weightDecay: wd } = config
  const norm = tf.tidy(() => {
    const squares = ss.map((s) => tf.sum(tf.square(s.g)))
    return squares.length === 0 ? tf.scalar(0) : tf.sqrt(squares.length === 1 ? squares[0]! : tf.addN(squares))
  })
  const total = norm.dataSync()[0]!
  norm.dispose()
  const scale = clipScale(total, config.maxGradNorm)
  tf.tidy(() => {
    for (const s of ss) {
      const g = tf.mul(s.g, scale)
      const m1 = tf.add(tf.mul(s.m, b1), tf.mul(g, 1 - b1))
      const v1 = tf.add(tf.mul(s.v, b2), tf.mul(tf.square(g), 1 - b2))
      const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(1 - b2 ** t)), eps)
      const decayed = wd > 0 && decaysFn(s.name, s.p.shape) ? tf.mul(s.p, 1 - lr * wd) : s.p
      s.p.assign(tf.sub(decayed, tf.mul(tf.div(m1, denom), lr / (1 - b1 ** t))))
      s.m.assign(m1)
      s.v.assign(v1)
    }
  })
  return total
}

/**
 * One update of every parameter that has a gradient, in place; returns the global gradient norm
 * before clipping. For each parameter, with g the clipped gradient and t = state.step + 1:
 *   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
 *   p = p (1 - lr wd) - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 */
export const apply = (
  params: ReadonlyMap<string, Variable>,
  grads: ReadonlyMap<string, Tensor>,
  state: AdamWState,
  config: AdamWConfig,
  lr: number = config.lr,
  decaysFn: (name: string, shape: ReadonlyArray<number>) => boolean = decays
): { gradNorm: number } => {
  check(config, lr)
  const ss = slots(params, grads, state)
  const t = state.step + 1
  const be = tf.getBackend() === "wasm" && duetWasmKernelsActive() ? assertWasmInternals(tf.backend()) : undefined
  const all = ss.flatMap((s) => [s.p, s.g, s.m, s.v])
  const gradNorm = onWasm(be, all) ? fusedApply(be, ss, config, lr, t, decaysFn) : compositeApply(ss, config, lr, t, decaysFn)
  state.step = t
  return { gradNorm }
}

/** Frees the moments. */
export const dispose = (state: AdamWState): void => {
  for (const x of [...state.m.values(), ...state.v.values()]) x.dispose()
}
