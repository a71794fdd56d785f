/**
 * `PolicyLoss`: the policy-gradient loss of one batch of rollouts, as a function value built by a
 * factory that captures every hyperparameter (`PpoClip.ppoClip({...})`, `Gspo.gspo({...})`).
 *
 * `loss = aggregation(surrogate) + klCoef * aggregation(kl) - entropyCoef * aggregation(H)`
 * (verl `compute_policy_loss` + `kl_loss` + `entropy_coeff`), where the surrogate is the per-token
 * loss matrix of the chosen objective and the same aggregation reduces every term.
 *
 * Inputs are tfjs tensors: `logp` (B, T) — the current policy's token log-probs, on the tape;
 * `oldLogp` (B, T) — the sampling policy's; `advantages` (B,) — one per row, broadcast over its
 * tokens; `mask` (B, T) — 1 on response tokens, 0 on padding; optional `refLogp` (B, T), `entropy`
 * (B, T), and `normaliser` (counts of the full batch when only some rows are passed: see
 * `ZeroAdvantageSkip`). The loss is a scalar on the tape; `metrics` are kept scalars (see `Metrics`).
 */
import * as tf from "@tensorflow/tfjs-core"
import type { Scalar, Tensor1D, Tensor2D } from "@tensorflow/tfjs-core"
import { InvalidArgumentError, NonFiniteValueError } from "@duet/core"
import { type Aggregation, tokenMean } from "./Aggregation.js"
import type { KlTerm } from "./Kl.js"
import { type Metrics, keepAll } from "./Metrics.js"
import type { Normaliser } from "./Normaliser.js"
import { ZeroAdvantageSkipRefusedError, canSkipZeroAdvantageRows } from "./ZeroAdvantageSkip.js"

export interface Input {
  /** (B, T) current policy token log-probs; the gradient flows through it. */
  readonly logp: Tensor2D
  /** (B, T) token log-probs under the policy that sampled the rollouts: a constant, off the tape. */
  readonly oldLogp: Tensor2D
  /** (B,) advantage per row. */
  readonly advantages: Tensor1D
  /** (B, T) 1 on response tokens, 0 on padding. */
  readonly mask: Tensor2D
  /** (B, T) frozen reference policy token log-probs (a constant); required when a KL term is configured. */
  readonly refLogp?: Tensor2D | undefined
  /** (B, T) per-token entropy (see `Entropy.tokenEntropy`); required when `entropyCoef != 0`. */
  readonly entropy?: Tensor2D | undefined
  /** Counts of the full batch when the rows given are a subset (zero-advantage skipping). */
  readonly normaliser?: Normaliser | undefined
}

export interface Output {
  /** The scalar to minimise. */
  readonly loss: Scalar
  /**
   * Kept scalars, means over the rows given (the kept rows when skipping): `policyLoss` (the
   * aggregated surrogate), `approxKl` (`mean(-log w)`, verl ppo_kl), the objective's clip
   * fractions, `kl` when a KL term is on, `entropy` when entropies are given.
   */
  readonly metrics: Metrics
}

/** What every policy loss shares beyond its surrogate. */
export interface Config {
  readonly name: string
  readonly aggregation: Aggregation
  /** Present only when the KL coefficient is > 0. */
  readonly kl: KlTerm | undefined
  readonly entropyCoef: number
}

export interface PolicyLoss {
  (input: Input): Output
  readonly config: Config
}

/** Options every policy-loss factory accepts. */
export interface CommonOptions {
  /** Default `tokenMean` (verl's default) unless the objective says otherwise. */
  readonly aggregation?: Aggregation | undefined
  /** KL-to-reference penalty; `coef` 0 (or absent) disables it. */
  readonly kl?: KlTerm | undefined
  /** Entropy bonus coefficient (subtracted). Default 0 (verl). */
  readonly entropyCoef?: number | undefined
  /** Compute metrics (default true); false returns `{}`. */
  readonly metrics?: boolean | undefined
}

/**
 * The objective-specific part: per-token loss `(B, T)` (entries of masked-out tokens are ignored)
 * and its metrics. Called inside a `tf.tidy`; `advantages2d` is the advantages as (B, 1).
 */
export type Surrogate = (
  input: Input,
  advantages2d: Tensor2D,
  withMetrics: boolean
) => { readonly perToken: Tensor2D; readonly metrics: Record<string, Scalar> }

const checkShape = (field: string, t: Tensor2D | undefined, shape: number[], name: string): void => {
  if (t === undefined) return
  if (!tf.util.arraysEqual(t.shape, shape)) {
    throw new InvalidArgumentError(`${name}: ${field}`, `has shape [${t.shape}] but logp has [${shape}]`)
  }
}

/** Throws `InvalidArgumentError` naming the first input whose shape disagrees with `logp`. */
export const checkInput = (input: Input, config: Config): void => {
  const name = config.name
  if (input.logp.rank !== 2) throw new InvalidArgumentError(`${name}: logp`, `has rank ${input.logp.rank}; expected (B, T)`)
  const shape = input.logp.shape
  checkShape("oldLogp", input.oldLogp, shape, name)
  checkShape("mask", input.mask, shape, name)
  checkShape("refLogp", input.refLogp, shape, name)
  checkShape("entropy", input.entropy, shape, name)
  if (input.advantages.rank !== 1 || input.advantages.shape[0] !== shape[0]) {
    throw new InvalidArgumentError(`${name}: advantages`, `has shape [${input.advantages.shape}]; expected [${shape[0]}] (one per row)`)
  }
  // oldLogp and refLogp are constants: the very tensor logp would let the gradient flow through
  // them too (w = exp(logp - logp) has gradient 0 everywhere).
  if (input.oldLogp === input.logp) throw new InvalidArgumentError(`${name}: oldLogp`, "is the logp tensor itself; pass a constant copy of its values")
  if (input.refLogp !== undefined && input.refLogp === input.logp) {
    throw new InvalidArgumentError(`${name}: refLogp`, "is the logp tensor itself; pass a constant copy of its values")
  }
  if (config.kl !== undefined && input.refLogp === undefined) {
    throw new InvalidArgumentError(`${name}: refLogp`, "is missing; the KL term needs the reference policy's log-probs")
  }
  if (config.entropyCoef !== 0 && input.entropy === undefined) {
    throw new InvalidArgumentError(`${name}: entropy`, `is missing; entropyCoef is ${config.entropyCoef}`)
  }
  const normaliser = input.normaliser
  if (normaliser !== undefined && normaliser.totalRows > shape[0] && !canSkipZeroAdvantageRows(config)) {
    throw new ZeroAdvantageSkipRefusedError(
      name,
      `got ${shape[0]} of ${normaliser.totalRows} rows, but its ${config.kl !== undefined ? "KL" : "entropy"} term needs every row`
    )
  }
}

/**
 * Builds a policy loss from a surrogate and the common options. Validates the options now (typed
 * errors), the inputs at every call.
 */
export const make = (name: string, surrogate: Surrogate, options: CommonOptions, defaultAggregation: Aggregation = tokenMean): PolicyLoss => {
  const entropyCoef = options.entropyCoef ?? 0
  if (!Number.isFinite(entropyCoef)) throw new NonFiniteValueError(`${name}.entropyCoef`, 0, entropyCoef)
  let kl: KlTerm | undefined
  if (options.kl !== undefined) {
    const coef = options.kl.coef
    if (!Number.isFinite(coef) || coef < 0) throw new InvalidArgumentError(`${name}.kl.coef`, `is ${coef}; must be a finite number >= 0`)
    if (coef > 0) kl = options.kl
  }
  const config: Config = { name, aggregation: options.aggregation ?? defaultAggregation, kl, entropyCoef }
  const withMetrics = options.metrics ?? true
  const loss = (input: Input): Output => {
    checkInput(input, config)
    return tf.tidy(() => {
      const { mask, normaliser } = input
      const advantages2d = tf.reshape(input.advantages, [input.advantages.shape[0], 1]) as Tensor2D // (B, 1)
      const { perToken, metrics } = surrogate(input, advantages2d, withMetrics)
      const policyLoss = config.aggregation(perToken, mask, normaliser)
      let total: Scalar = policyLoss
      const out: Record<string, Scalar> = { ...metrics }
      if (config.kl !== undefined) {
        const klValue = config.aggregation(config.kl.estimator(input.logp, input.refLogp!), mask, normaliser)
        total = tf.add(total, tf.mul(klValue, config.kl.coef))
        if (withMetrics) out.kl = tf.clone(klValue)
      }
      if (input.entropy !== undefined) {
        const entropy = config.aggregation(input.entropy, mask, normaliser)
        if (entropyCoef !== 0) total = tf.sub(total, tf.mul(entropy, entropyCoef))
        if (withMetrics) out.entropy = tf.clone(entropy)
      }
      if (withMetrics) out.policyLoss = tf.clone(policyLoss)
      return { loss: total, metrics: keepAll(withMetrics ? out : {}) }
    })
  }
  return Object.assign(loss, { config })
}
