/**
 * Recipe data -> plugin values: the estimator (an AdvantageTransform), the policy or DPO loss with
 * its aggregation function, the learning-rate schedule and the group-size policy. The one place
 * that maps names to implementations; call sites never branch on an algorithm's name.
 */
import type { AnyAdvantageTransform } from "@duet/core"
import { Registry } from "@duet/estimators"
import { Dpo, Kl, gspo, ppoClip, seqMeanTokenMean, seqMeanTokenSum, seqMeanTokenSumNorm, tokenMean } from "@duet/losses"
import type { AggregationFn, PolicyLoss } from "@duet/losses"
import { GroupSize, LearningRate } from "@duet/schedulers"
import type { GroupSizePolicy, ScheduleFn } from "@duet/schedulers"
import type { EstimatorSpec, LossSpec, Recipe } from "./Recipe.js"

const opt = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }

/**
 * The estimator a recipe names: a built-in from `@duet/estimators` `Registry` with its options, or,
 * for `{ kind: "custom", name }`, the user's value (a recipe recording a user estimator cannot run
 * without it).
 */
export const estimator = (spec: EstimatorSpec, user?: AnyAdvantageTransform): AnyAdvantageTransform => {
  if (spec.kind !== "custom") return Registry.make(spec)
  if (user === undefined) {
    throw new Error(`"${spec.name}" is a user estimator: its value comes from the TypeScript recipe that defines it (duet train --recipe FILE.ts)`)
  }
  return user
}

export const aggregation = (name: Recipe["rl"]["aggregation"], maxTokens: number): AggregationFn => {
  switch (name) {
    case "token-mean":
      return tokenMean
    case "seq-mean-token-mean":
      return seqMeanTokenMean
    case "seq-mean-token-sum":
      return seqMeanTokenSum
    case "seq-mean-token-sum-norm":
      return seqMeanTokenSumNorm(maxTokens)
  }
}

export type Objective =
  | { readonly kind: "policy"; readonly loss: PolicyLoss.PolicyLoss }
  | { readonly kind: "dpo"; readonly loss: Dpo.DpoLoss }

const klEstimators = { k1: Kl.k1, abs: Kl.abs, k2: Kl.k2, k3: Kl.k3 } as const

export const objective = (rl: Recipe["rl"]): Objective => {
  const spec: LossSpec = rl.loss
  const common = {
    aggregation: aggregation(rl.aggregation, rl.sampling.maxTokens),
    ...(rl.kl && rl.kl.coef > 0 ? { kl: { coef: rl.kl.coef, estimator: klEstimators[rl.kl.estimator] } } : {})
  }
  switch (spec.kind) {
    case "ppo-clip":
      return {
        kind: "policy",
        loss: ppoClip({ ...common, ...opt("epsLow", spec.epsLow), ...opt("epsHigh", spec.epsHigh), ...opt("dualClip", spec.dualClip) })
      }
    case "gspo":
      return { kind: "policy", loss: gspo({ ...common, ...opt("epsLow", spec.epsLow), ...opt("epsHigh", spec.epsHigh) }) }
    case "dpo": {
      const base = { beta: spec.beta }
      const loss =
        spec.variant === "sigmoid"
          ? Dpo.sigmoid({ ...base, ...opt("labelSmoothing", spec.labelSmoothing) })
          : spec.variant === "ipo"
            ? Dpo.ipo(base)
            : Dpo.hinge(base)
      return { kind: "dpo", loss }
    }
  }
}

/** Constant learning rate with a linear warm-up (the paper's schedule). */
export const learningRate = (rl: Recipe["rl"]): ScheduleFn => LearningRate.linearWarmup(rl.lr, rl.warmupSteps)

export const groupSize = (rl: Recipe["rl"]): GroupSizePolicy =>
  rl.groupSize.kind === "fixed"
    ? GroupSize.fixedGroupSize(rl.groupSize.size)
    : GroupSize.adaptiveGroupSize({ initial: rl.groupSize.initial, max: rl.groupSize.max })
