/**
 * The DPO family on sequence log-probs (TRL `DPOTrainer`, `DPOConfig.loss_type`). With chosen c,
 * rejected r, policy and frozen reference sequence log-probs, and
 *
 *   `logits = (logp_c - ref_c) - (logp_r - ref_r)`,  `h = beta logits`:
 *
 * | factory   | per-pair loss                                          | source                                      |
 * |-----------|--------------------------------------------------------|---------------------------------------------|
 * | `sigmoid` | `-(1 - e) log sig(h) - e log sig(-h)`                  | Rafailov et al. 2023; label smoothing e: cDPO (Mitchell 2023) |
 * | `hinge`   | `relu(1 - h)`                                          | SLiC (Zhao et al. 2023)                      |
 * | `ipo`     | `(logits - 1 / (2 beta))^2` on length-normalised logps | Azar et al. 2023, eq. 17; TRL divides by length |
 *
 * The loss is the batch mean. Metrics (kept scalars, see `Metrics`): `chosenReward`
 * `mean(beta (logp_c - ref_c))`, `rejectedReward`, `rewardMargin`, `rewardAccuracy`
 * (`mean(chosen reward > rejected reward)`), as TRL logs them. Default beta 0.1 (TRL).
 * The 2-GRPO paper's point: a 2-GRPO pair with rewards 1 and 0 is such a (chosen, rejected) pair.
 */
import * as tf from "@tensorflow/tfjs-core"
import type { Scalar, Tensor1D } from "@tensorflow/tfjs-core"
import { InvalidArgumentError } from "@duet/core"
import { type Metrics, keepAll } from "./Metrics.js"
import { PluginOptions } from "@duet/core"
import * as LossEntryModule from "./LossEntry.js"

export interface Input {
  /** (B,) policy log-prob of each chosen completion (sum over its tokens). */
  readonly policyChosen: Tensor1D
  /** (B,) policy log-prob of each rejected completion. */
  readonly policyRejected: Tensor1D
  /** (B,) reference log-probs (constants). */
  readonly refChosen: Tensor1D
  readonly refRejected: Tensor1D
  /** (B,) token counts; required by `ipo`, which divides every log-prob by its length. */
  readonly chosenLength?: Tensor1D | undefined
  readonly rejectedLength?: Tensor1D | undefined
}

export interface Output {
  readonly loss: Scalar
  readonly metrics: Metrics
}

export interface Config {
  readonly name: "sigmoid" | "hinge" | "ipo"
  readonly beta: number
  readonly labelSmoothing: number
}

export interface DpoLoss {
  (input: Input): Output
  readonly config: Config
}

export interface DpoOptions {
  /** Temperature of the implicit reward. Default 0.1 (TRL). > 0. */
  readonly beta?: number | undefined
  /** Compute metrics (default true). */
  readonly metrics?: boolean | undefined
}

export interface SigmoidOptions extends DpoOptions {
  /** Probability e that a preference label is flipped (cDPO). Default 0. In [0, 0.5]. */
  readonly labelSmoothing?: number | undefined
}

const checkInput = (input: Input, name: string, needLengths: boolean): void => {
  const b = input.policyChosen.shape
  const fields = ["policyChosen", "policyRejected", "refChosen", "refRejected"] as const
  for (const field of fields) {
    const t = input[field]
    if (t.rank !== 1 || t.shape[0] !== b[0]) {
      throw new InvalidArgumentError(`dpo.${name}: ${field}`, `has shape [${t.shape}]; expected [${b}] (one sequence log-prob per pair)`)
    }
  }
  if (needLengths) {
    for (const field of ["chosenLength", "rejectedLength"] as const) {
      const t = input[field]
      if (t === undefined) throw new InvalidArgumentError(`dpo.${name}: ${field}`, "is missing; IPO averages log-probs over tokens")
      if (t.rank !== 1 || t.shape[0] !== b[0]) throw new InvalidArgumentError(`dpo.${name}: ${field}`, `has shape [${t.shape}]; expected [${b}]`)
    }
  }
}

const build = (
  config: Config,
  withMetrics: boolean,
  lengthNormalised: boolean,
  perPair: (logits: Tensor1D) => Tensor1D
): DpoLoss => {
  const loss = (input: Input): Output => {
    checkInput(input, config.name, lengthNormalised)
    return tf.tidy(() => {
      let chosen = tf.sub(input.policyChosen, input.refChosen) // (B,) log-ratio of chosen
      let rejected = tf.sub(input.policyRejected, input.refRejected)
      if (lengthNormalised) {
        chosen = tf.div(chosen, input.chosenLength!)
        rejected = tf.div(rejected, input.rejectedLength!)
      }
      const logits = tf.sub(chosen, rejected) as Tensor1D
      const value = tf.mean(perPair(logits)) as Scalar
      const metrics: Record<string, Scalar> = {}
      if (withMetrics) {
        const chosenReward = tf.mul(chosen, config.beta)
        const rejectedReward = tf.mul(rejected, config.beta)
        metrics.chosenReward = tf.mean(chosenReward)
        metrics.rejectedReward = tf.mean(rejectedReward)
        metrics.rewardMargin = tf.mean(tf.sub(chosenReward, rejectedReward))
        metrics.rewardAccuracy = tf.mean(tf.cast(tf.greater(chosenReward, rejectedReward), "float32"))
      }
      return { loss: value, metrics: keepAll(metrics) }
    })
  }
  return Object.assign(loss, { config })
}

const checkBeta = (beta: number, name: string): number => {
  if (!(Number.isFinite(beta) && beta > 0)) throw new InvalidArgumentError(`dpo.${name}.beta`, `is ${beta}; must be a finite number > 0`)
  return beta
}

/** `-(1 - e) log sig(beta logits) - e log sig(-beta logits)`: DPO; cDPO with label smoothing e. */
export const sigmoid = (options: SigmoidOptions = {}): DpoLoss => {
  const beta = checkBeta(options.beta ?? 0.1, "sigmoid")
  const e = options.labelSmoothing ?? 0
  if (!(Number.isFinite(e) && e >= 0 && e <= 0.5)) {
    throw new InvalidArgumentError("dpo.sigmoid.labelSmoothing", `is ${e}; must be in [0, 0.5]`)
  }
  return build({ name: "sigmoid", beta, labelSmoothing: e }, options.metrics ?? true, false, (logits) => {
    const h = tf.mul(logits, beta)
    // -log sig(h) = softplus(-h). Not tf.logSigmoid: its custom gradient closes over an input it
    // does not save, so under tf.grad/variableGrads of an intermediate it reads a disposed tensor.
    const positive = tf.mul(tf.softplus(tf.neg(h)), 1 - e)
    return (e === 0 ? positive : tf.add(positive, tf.mul(tf.softplus(h), e))) as Tensor1D
  })
}

/** `relu(1 - beta logits)`: the SLiC hinge. */
export const hinge = (options: DpoOptions = {}): DpoLoss => {
  const beta = checkBeta(options.beta ?? 0.1, "hinge")
  return build({ name: "hinge", beta, labelSmoothing: 0 }, options.metrics ?? true, false, (logits) =>
    tf.relu(tf.sub(1, tf.mul(logits, beta))) as Tensor1D
  )
}

/**
 * `(logits - 1 / (2 beta))^2` with each log-prob divided by its completion's token count (IPO;
 * beta is the paper's tau). Needs `chosenLength` and `rejectedLength`.
 */
export const ipo = (options: DpoOptions = {}): DpoLoss => {
  const beta = checkBeta(options.beta ?? 0.1, "ipo")
  return build({ name: "ipo", beta, labelSmoothing: 0 }, options.metrics ?? true, true, (logits) =>
    tf.square(tf.sub(logits, 1 / (2 * beta))) as Tensor1D
  )
}

export const entry = LossEntryModule.pairs({
  name: "dpo",
  summary: "online DPO on each group's discordant pairs: sigmoid (DPO, cDPO), ipo or hinge (SLiC) against the frozen reference",
  options: {
    variant: PluginOptions.literal(["sigmoid", "ipo", "hinge"], "the pair loss", { required: true }),
    beta: PluginOptions.number(0, "temperature of the implicit reward (> 0; TRL 0.1)", { required: true }),
    labelSmoothing: PluginOptions.number(0, "sigmoid only: probability a label is flipped (cDPO, default 0)", { max: 0.5 })
  },
  make: ({ variant, beta, labelSmoothing }) =>
    variant === "ipo" ? ipo({ ...(beta === undefined ? {} : { beta }) }) : variant === "hinge" ? hinge({ ...(beta === undefined ? {} : { beta }) }) : sigmoid({ ...(beta === undefined ? {} : { beta }), ...(labelSmoothing === undefined ? {} : { labelSmoothing }) })
})
