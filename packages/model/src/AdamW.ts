/**
 * AdamW: Adam (Kingma & Ba 2015, Alg. 1) with decoupled weight decay (Loshchilov & Hutter 2019,
 * Alg. 2), after `torch.optim.AdamW`, plus clipping by global gradient norm as
 * `torch.nn.utils.clip_grad_norm_`. tfjs ships Adam without weight decay.
 *
 * State is explicit data — the step count and the first/second moments by parameter name — so a
 * checkpoint saves and restores it; `apply` updates parameters and state in place (tf.Variables):
 * the engine's fused pass over all parameters on wasm, composed tfjs ops elsewhere.
 */
import { InvalidArgumentError } from "@duet/core"
import { AdamW as EngineAdamW, Engine } from "@duet/engine"
import { tf } from "./internal/Tfjs.js"

export interface AdamWConfig {
  /** Step size; `apply` takes a per-step override, so a schedule is a function of the step. */
  readonly lr: number
  /** First-moment decay (0.9, PyTorch). */
  readonly beta1: number
  /** Second-moment decay (0.999, PyTorch; nanoGPT uses 0.95). */
  readonly beta2: number
  /** Denominator epsilon (1e-8, PyTorch). */
  readonly eps: number
  /** Decoupled weight decay (0.01, PyTorch's AdamW default), applied where `decays(name)`. */
  readonly weightDecay: number
  /** Clip gradients to this global L2 norm (1.0, the usual RLHF setting); null = no clipping. */
  readonly maxGradNorm: number | null
}

export const defaultConfig: AdamWConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1.0 }

/** nanoGPT's rule: matrices (weights, embeddings) decay; biases and LayerNorm gains do not. */
export const decays = (name: string, shape: ReadonlyArray<number>): boolean => shape.length >= 2 && name.endsWith(".weight")

export interface AdamWState {
  /** Updates taken so far. */
  step: number
  /** First moments `exp_avg`, by parameter name. */
  readonly m: Map<string, tf.Variable>
  /** Second moments `exp_avg_sq`, by parameter name. */
  readonly v: Map<string, tf.Variable>
}

/** A config from overrides of `defaultConfig`, checked; throws naming the field. */
export const makeConfig = (overrides: Partial<AdamWConfig> = {}): AdamWConfig => {
  const c = { ...defaultConfig, ...overrides }
  if (!(c.lr >= 0)) throw new InvalidArgumentError("AdamW.lr", `must be >= 0, got ${c.lr}`)
  if (!(c.beta1 >= 0 && c.beta1 < 1)) throw new InvalidArgumentError("AdamW.beta1", `must be in [0, 1), got ${c.beta1}`)
  if (!(c.beta2 >= 0 && c.beta2 < 1)) throw new InvalidArgumentError("AdamW.beta2", `must be in [0, 1), got ${c.beta2}`)
  if (!(c.eps > 0)) throw new InvalidArgumentError("AdamW.eps", `must be > 0, got ${c.eps}`)
  if (!(c.weightDecay >= 0)) throw new InvalidArgumentError("AdamW.weightDecay", `must be >= 0, got ${c.weightDecay}`)
  if (c.maxGradNorm !== null && !(c.maxGradNorm > 0)) throw new InvalidArgumentError("AdamW.maxGradNorm", `must be > 0 or null, got ${c.maxGradNorm}`)
  return c
}

/** Zero moments for every parameter, step 0. */
export const init = (params: ReadonlyMap<string, tf.Variable>): AdamWState => {
  const zeros = () => new Map([...params].map(([name, p]) => [name, tf.tidy(() => tf.variable(tf.zerosLike(p), false))] as const))
  return { step: 0, m: zeros(), v: zeros() }
}

/** State from saved moments (names must match `params`); copies them into new Variables. */
export const restore = (
  params: ReadonlyMap<string, tf.Variable>,
  saved: { step: number; m: ReadonlyMap<string, tf.Tensor>; v: ReadonlyMap<string, tf.Tensor> }
): AdamWState => {
  const copy = (moments: ReadonlyMap<string, tf.Tensor>, field: string) => {
    const out = new Map<string, tf.Variable>()
    for (const [name, p] of params) {
      const t = moments.get(name)
      if (t === undefined) throw new InvalidArgumentError(`${field}.${name}`, "missing from the saved optimizer state")
      if (t.shape.join(",") !== p.shape.join(",")) throw new InvalidArgumentError(`${field}.${name}`, `shape [${t.shape}] != parameter shape [${p.shape}]`)
      out.set(name, tf.variable(t, false))
    }
    return out
  }
  if (!Number.isInteger(saved.step) || saved.step < 0) throw new InvalidArgumentError("step", `must be an integer >= 0, got ${saved.step}`)
  return { step: saved.step, m: copy(saved.m, "exp_avg"), v: copy(saved.v, "exp_avg_sq") }
}

/**
 * One update, in place: clip grads to `maxGradNorm` by global norm, then for each parameter
 *   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
 *   p = p (1 - lr wd) - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * (torch.optim.AdamW). Returns the global gradient norm before clipping.
 */
export const apply = (
  params: ReadonlyMap<string, tf.Variable>,
  grads: ReadonlyMap<string, tf.Tensor>,
  state: AdamWState,
  config: AdamWConfig,
  lr: number = config.lr
): { gradNorm: number } => {
  for (const name of grads.keys()) if (!params.has(name)) throw new InvalidArgumentError(`grads.${name}`, "is not a parameter")
  // The engine's fused pass writes parameters in place on the wasm heap. On its JS matmul path the
  // dense layers run on XNNPACK, which keeps packed copies of weight matrices keyed by tensor, so an
  // in-place write leaves them stale (training diverges; test/Training.test.ts under DUET_BLAS=0).
  // There, update with new tensors instead, until the engine invalidates those copies.
  if (Engine.info()?.matmul === "js-fallback") return applyComposite(params, grads, state, config, lr)
  return EngineAdamW.apply(params, grads, state, config, lr, decays)
}

/** The same update composed of tfjs ops, each parameter assigned a new tensor. */
const applyComposite = (
  params: ReadonlyMap<string, tf.Variable>,
  grads: ReadonlyMap<string, tf.Tensor>,
  state: AdamWState,
  config: AdamWConfig,
  lr: number
): { gradNorm: number } => {
  const t = state.step + 1
  const { beta1: b1, beta2: b2, eps, weightDecay: wd } = config
  const norm = tf.tidy(() => {
    const squares = [...grads.values()].map((g) => tf.sum(tf.square(g)))
    const total = squares.length === 0 ? tf.scalar(0) : tf.sqrt(squares.length === 1 ? squares[0]! : tf.addN(squares))
    // torch: clip_coef = max_norm / (total_norm + 1e-6), clamped to at most 1
    const scale = config.maxGradNorm === null ? tf.scalar(1) : tf.minimum(1, tf.div(config.maxGradNorm, tf.add(total, 1e-6)))
    for (const [name, p] of params) {
      const gRaw = grads.get(name)
      if (gRaw === undefined) continue // unused parameter: no update, as torch skips grad=None
      const g = tf.mul(gRaw, scale)
      const m = state.m.get(name)!
      const v = state.v.get(name)!
      const m1 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1))
      const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2))
      const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(1 - b2 ** t)), eps)
      const decayed = wd > 0 && decays(name, p.shape) ? tf.mul(p, 1 - lr * wd) : p
      p.assign(tf.sub(decayed, tf.mul(tf.div(m1, denom), lr / (1 - b1 ** t))))
      m.assign(m1)
      v.assign(v1)
    }
    return total
  })
  const gradNorm = norm.dataSync()[0]!
  norm.dispose()
  state.step = t
  return { gradNorm }
}

/** Frees the moments. */
export const dispose = (state: AdamWState): void => {
  for (const x of [...state.m.values(), ...state.v.values()]) x.dispose()
}
