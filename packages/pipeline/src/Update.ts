/**
 * One optimizer update of the policy, for SFT and for RL. Everything numeric and synchronous
 * (tfjs); the Effect program in `Train.ts` sequences these calls.
 *
 * RL update, following verl's actor: completions come with the sampler's token log-probs (the
 * "old" policy, on-policy here: one update per batch), advantages per row, and an optional
 * zero-advantage skip that runs forward/backward on the rows with A != 0 only while the loss
 * normalises by the full batch's counts (`@duet/losses` ZeroAdvantageSkip) — same gradient, less work.
 */
import { tf } from "@duet/engine"
import { AdamW, Policies } from "@duet/model"
import type { AdamWConfig, AdamWState, Policy as AnyPolicy } from "@duet/model"

// Any architecture (duet's GPT, Llama/Qwen from HF): the update only uses the Policy interface.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Policy = AnyPolicy<any>
import { Dpo, Entropy, Metrics, Normaliser, ZeroAdvantageSkip } from "@duet/losses"
import type { PolicyLoss } from "@duet/losses"

export interface Optimizer {
  readonly config: AdamWConfig
  readonly state: AdamWState
}

export const makeOptimizer = (policy: Policy, config: Partial<AdamWConfig>): Optimizer => ({
  config: AdamW.makeConfig(config),
  state: AdamW.init(policy.params)
})

/** Runs `lossFn` under `tf.variableGrads`, applies AdamW at `lr`, returns the loss and grad norm. */
const applyGradients = (
  policy: Policy,
  opt: Optimizer,
  lr: number,
  lossFn: () => tf.Scalar
): { loss: number; gradNorm: number } => {
  const vars = [...policy.params.values()]
  const { value, grads } = tf.variableGrads(lossFn, vars)
  const byName = new Map<string, tf.Tensor>()
  for (const [name, v] of policy.params) {
    const g = grads[v.name]
    if (g !== undefined) byName.set(name, g)
  }
  const { gradNorm } = AdamW.apply(policy.params, byName, opt.state, opt.config, lr)
  const loss = value.dataSync()[0]!
  value.dispose()
  for (const g of Object.values(grads)) g.dispose()
  return { loss, gradNorm }
}

/** One SFT step: mean negative log-likelihood of the completion tokens (token-mean). */
export const sftStep = (
  policy: Policy,
  opt: Optimizer,
  lr: number,
  prompts: ReadonlyArray<Int32Array>,
  completions: ReadonlyArray<Int32Array>
): { loss: number; gradNorm: number } =>
  applyGradients(policy, opt, lr, () => {
    const { logprobs, mask } = policy.sequenceLogprobs(prompts, completions)
    return tf.div(tf.neg(tf.sum(tf.mul(logprobs, mask))), tf.maximum(tf.sum(mask), 1)) as tf.Scalar
  })

export interface RlBatch {
  readonly prompts: ReadonlyArray<Int32Array>
  readonly completions: ReadonlyArray<Int32Array>
  /**
   * Sampler log-probs per completion token (old policy). `undefined` for a row whose sampler gave
   * none (an HTTP server without logprobs): recomputed here with the policy before the update.
   */
  readonly oldLogprobs: ReadonlyArray<Float32Array | undefined>
  readonly advantages: Float64Array
}

export interface RlStepResult {
  readonly loss: number
  readonly gradNorm: number
  /** Rows that went through forward/backward. */
  readonly rowsComputed: number
  readonly skippedFraction: number
  readonly metrics: Record<string, number>
}

const padRows = (rows: ReadonlyArray<ArrayLike<number>>, width: number): Float32Array => {
  const out = new Float32Array(rows.length * width)
  rows.forEach((r, i) => {
    for (let j = 0; j < r.length; j++) out[i * width + j] = r[j]!
  })
  return out
}

/** One policy-gradient update (PPO-clip / GSPO family) on a batch of rollouts. */
export const rlStep = (
  policy: Policy,
  opt: Optimizer,
  lr: number,
  loss: PolicyLoss.PolicyLoss,
  batch: RlBatch,
  skipZeroAdvantage: boolean,
  reference?: Policy
): RlStepResult => {
  const lengths = batch.completions.map((c) => c.length)
  const maxLen = Math.max(1, ...lengths)
  const plan = skipZeroAdvantage
    ? ZeroAdvantageSkip.plan(loss, batch.advantages, lengths, maxLen)
    : { kept: Int32Array.from(lengths.keys()), normaliser: Normaliser.fromLengths(lengths, maxLen), skipping: false, skippedFraction: 0 }
  const kept = Array.from(plan.kept)
  if (kept.length === 0) {
    // Every advantage is 0: the gradient is exactly 0, nothing to compute (AdamW still counts no step).
    return { loss: 0, gradNorm: 0, rowsComputed: 0, skippedFraction: 1, metrics: {} }
  }
  const prompts = kept.map((i) => batch.prompts[i]!)
  const completions = kept.map((i) => batch.completions[i]!)
  const Tc = Math.max(1, ...completions.map((c) => c.length))
  let metrics: Record<string, number> = {}
  const given = kept.map((i) => batch.oldLogprobs[i])
  const missing = given.flatMap((g, k) => (g === undefined ? [k] : []))
  if (missing.length > 0) {
    const recomputed = tokenLogprobRows(policy, missing.map((k) => prompts[k]!), missing.map((k) => completions[k]!))
    missing.forEach((k, m) => (given[k] = recomputed[m]))
  }
  const oldLogp = tf.tensor2d(padRows(given as Float32Array[], Tc), [kept.length, Tc])
  const advantages = tf.tensor1d(Float32Array.from(kept.map((i) => batch.advantages[i]!)))
  // The KL term compares with a frozen reference: its log-probs are constants, computed off the tape.
  const refLogp = reference === undefined ? undefined : tf.tidy(() => reference.sequenceLogprobs(prompts, completions).logprobs)
  const withEntropy = loss.config.entropyCoef !== 0
  try {
    const result = applyGradients(policy, opt, lr, () => {
      const { logprobs, mask } = policy.sequenceLogprobs(prompts, completions)
      const entropy = withEntropy ? sequenceEntropy(policy, prompts, completions) : undefined
      const out = loss({ logp: logprobs, oldLogp, advantages, mask, normaliser: plan.normaliser, refLogp, entropy })
      metrics = Metrics.read(out.metrics)
      Metrics.dispose(out.metrics)
      return out.loss
    })
    return { ...result, rowsComputed: kept.length, skippedFraction: plan.skippedFraction, metrics }
  } finally {
    oldLogp.dispose()
    advantages.dispose()
    refLogp?.dispose()
  }
}

export interface DpoBatch {
  readonly prompts: ReadonlyArray<Int32Array>
  readonly chosen: ReadonlyArray<Int32Array>
  readonly rejected: ReadonlyArray<Int32Array>
}

/** Sequence log-probs (sum over completion tokens) of completions under a policy, no gradient. */
export const sequenceLogprobSums = (policy: Policy, prompts: ReadonlyArray<Int32Array>, completions: ReadonlyArray<Int32Array>): Float32Array =>
  tf.tidy(() => {
    const { logprobs, mask } = policy.sequenceLogprobs(prompts, completions)
    return tf.sum(tf.mul(logprobs, mask), 1).dataSync() as Float32Array
  })

/** One online-DPO update on (chosen, rejected) pairs against a frozen reference policy. */
export const dpoStep = (
  policy: Policy,
  reference: Policy,
  opt: Optimizer,
  lr: number,
  loss: Dpo.DpoLoss,
  batch: DpoBatch
): { loss: number; gradNorm: number; metrics: Record<string, number> } => {
  const n = batch.prompts.length
  const refC = sequenceLogprobSums(reference, batch.prompts, batch.chosen)
  const refR = sequenceLogprobSums(reference, batch.prompts, batch.rejected)
  const refChosen = tf.tensor1d(refC)
  const refRejected = tf.tensor1d(refR)
  const chosenLength = tf.tensor1d(Float32Array.from(batch.chosen.map((c) => c.length)))
  const rejectedLength = tf.tensor1d(Float32Array.from(batch.rejected.map((c) => c.length)))
  let metrics: Record<string, number> = {}
  try {
    const result = applyGradients(policy, opt, lr, () => {
      const both = policy.sequenceLogprobs([...batch.prompts, ...batch.prompts], [...batch.chosen, ...batch.rejected])
      const sums = tf.sum(tf.mul(both.logprobs, both.mask), 1) as tf.Tensor1D
      const policyChosen = tf.slice(sums, [0], [n]) as tf.Tensor1D
      const policyRejected = tf.slice(sums, [n], [n]) as tf.Tensor1D
      const out = loss({ policyChosen, policyRejected, refChosen, refRejected, chosenLength, rejectedLength })
      metrics = Metrics.read(out.metrics)
      Metrics.dispose(out.metrics)
      return out.loss
    })
    return { ...result, metrics }
  } finally {
    for (const t of [refChosen, refRejected, chosenLength, rejectedLength]) t.dispose()
  }
}

/** A frozen copy of a policy's parameters (the reference for KL / DPO). */
export const freeze = (policy: Policy): Policy => policy.withParams(policy.params)

/** Per-token log-probs of each completion under `policy` (no gradient), one array per row. */
export const tokenLogprobRows = (policy: Policy, prompts: ReadonlyArray<Int32Array>, completions: ReadonlyArray<Int32Array>): Float32Array[] => {
  const flat = tf.tidy(() => policy.sequenceLogprobs(prompts, completions).logprobs)
  const Tc = flat.shape[1]
  const values = flat.dataSync() as Float32Array
  flat.dispose()
  return completions.map((c, b) => values.slice(b * Tc, b * Tc + c.length))
}

/**
 * Entropy of the policy's next-token distribution at each completion position (B, Tc), aligned with
 * `sequenceLogprobs` (0 on padding). Differentiable: the entropy bonus's gradient flows through it.
 */
export const sequenceEntropy = (policy: Policy, prompts: ReadonlyArray<Int32Array>, completions: ReadonlyArray<Int32Array>): tf.Tensor2D => {
  const batch = Policies.buildCompletionBatch(prompts, completions, policy.config)
  const { B, T, Tc } = batch
  const tokens = tf.tensor2d(batch.inputs, [B, T], "int32")
  const h = Entropy.tokenEntropy(policy.logits(tokens)) // (B, T)
  const select = tf.tensor3d(batch.select, [B, Tc, T]) // (B, Tc, T)
  return tf.sum(tf.mul(select, tf.reshape(h, [B, 1, T])), -1) as tf.Tensor2D // (B, Tc)
}
