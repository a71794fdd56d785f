/**
 * An `Objective`: what one optimizer update minimises on a batch of scored rollouts. One interface
 * for the policy-gradient family (PPO-clip, GSPO, with KL and entropy terms) and the DPO family
 * (online DPO on each group's discordant pairs), so the trainer never branches on an algorithm:
 *
 *   const result = objective.step(learner, batch, { lr, klCoef })
 *
 * Write your own by implementing `step` (see `policyGradient` for the shape), or build one from any
 * `PolicyLoss` / `DpoLoss` value.
 */
import type { Scores } from "@duet/core"
import { preferencePairs } from "@duet/estimators"
import type { Dpo, PolicyLoss } from "@duet/losses"
import type { Policy } from "@duet/model"
import * as Update from "./Update.js"

/** A batch of scored rollouts: row i is `prompts[i] ++ completions[i]`. */
export interface Batch {
  readonly prompts: ReadonlyArray<Int32Array>
  readonly completions: ReadonlyArray<Int32Array>
  /** Sampler token log-probs per row (`undefined`: recomputed with the policy). */
  readonly oldLogprobs: ReadonlyArray<Float32Array | undefined>
  /** Rewards with their groups (DPO reads its pairs from them). */
  readonly scores: Scores.Scores
  readonly advantages: Float64Array
}

/** What an update changes and reads: the policy, its optimizer, the frozen reference if any. */
export interface Learner {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly policy: Policy<any>
  readonly optimizer: Update.Optimizer
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly reference?: Policy<any> | undefined
}

export interface StepContext {
  readonly lr: number
  /** The KL coefficient this step (a schedule or controller may move it); ignored without a KL term. */
  readonly klCoef: number
}

export interface Result {
  readonly loss: number
  readonly gradNorm: number
  /** Rows that went through forward/backward. */
  readonly rowsComputed: number
  readonly skippedFraction: number
  /** The loss's own metrics (`approxKl`, clip fractions, `kl`, `entropy`, DPO margins, ...). */
  readonly metrics: Record<string, number>
}

export interface Objective {
  readonly name: string
  /** True when `step` needs `learner.reference` (a KL term, DPO). */
  readonly needsReference: boolean
  readonly step: (learner: Learner, batch: Batch, context: StepContext) => Result
}

export interface PolicyGradientOptions {
  /** The loss at a KL coefficient (`(coef) => ppoClip({ kl: { coef, estimator: Kl.k3 } })`); called again only when the coefficient changes. */
  readonly loss: (klCoef: number) => PolicyLoss.PolicyLoss
  /** Whether the loss has a KL term (then the trainer keeps a frozen reference). */
  readonly kl: boolean
  /** Skip rows with advantage 0 in forward/backward (same gradient; refused by the loss when a KL or entropy term needs every row). */
  readonly skipZeroAdvantage: boolean
}

/** Policy-gradient objectives (PPO-clip, GSPO, any `PolicyLoss`): one update on the batch's rollouts. */
export const policyGradient = (options: PolicyGradientOptions): Objective => {
  let cached: { coef: number; loss: PolicyLoss.PolicyLoss } | undefined
  const lossAt = (coef: number) => {
    if (cached === undefined || cached.coef !== coef) cached = { coef, loss: options.loss(coef) }
    return cached.loss
  }
  const first = lossAt(0)
  return {
    name: first.config.name,
    needsReference: options.kl,
    step: (learner, batch, { lr, klCoef }) => {
      const loss = lossAt(options.kl ? klCoef : 0)
      // A loss with an entropy term needs every row's entropy: no skipping then.
      const skip = options.skipZeroAdvantage && loss.config.entropyCoef === 0
      return Update.rlStep(
        learner.policy,
        learner.optimizer,
        lr,
        loss,
        { prompts: batch.prompts, completions: batch.completions, oldLogprobs: batch.oldLogprobs, advantages: batch.advantages },
        skip,
        options.kl ? learner.reference : undefined
      )
    }
  }
}

/** Online DPO: each group's discordant pairs (higher reward = chosen) against the frozen reference. */
export const dpo = (loss: Dpo.DpoLoss): Objective => ({
  name: loss.config.name,
  needsReference: true,
  step: (learner, batch, { lr }) => {
    const pairs = preferencePairs(batch.scores)
    const rows = batch.prompts.length
    if (pairs.length === 0) return { loss: 0, gradNorm: 0, rowsComputed: 0, skippedFraction: 1, metrics: {} }
    if (learner.reference === undefined) throw new Error(`${loss.config.name}: needs a reference policy (learner.reference)`)
    const r = Update.dpoStep(learner.policy, learner.reference, learner.optimizer, lr, loss, {
      prompts: pairs.map((p) => batch.prompts[p.chosen]!),
      chosen: pairs.map((p) => batch.completions[p.chosen]!),
      rejected: pairs.map((p) => batch.completions[p.rejected]!)
    })
    return { ...r, rowsComputed: 2 * pairs.length, skippedFraction: 1 - (2 * pairs.length) / rows }
  }
})
