/**
 * Recipe data -> plugin values: the estimator (an AdvantageTransform), the objective (policy or DPO
 * loss with its aggregation, KL and entropy terms), the KL controller, the learning-rate and
 * temperature schedules and the group-size policy. The one place
 * that maps names to implementations; call sites never branch on an algorithm's name.
 */
import type { AnyAdvantageTransform } from "@duet/core"
import { Registry } from "@duet/estimators"
import { PluginOptions } from "@duet/core"
import { Kl, Registry as LossRegistry, seqMeanTokenMean, seqMeanTokenSum, seqMeanTokenSumNorm, tokenMean } from "@duet/losses"
import type { AggregationFn } from "@duet/losses"
import { GroupSize, KlCoefficient, LearningRate, Temperature } from "@duet/schedulers"
import type { GroupSizePolicy, KlController, ScheduleFn } from "@duet/schedulers"
import * as Objective from "./Objective.js"
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

const klEstimators = { k1: Kl.k1, abs: Kl.abs, k2: Kl.k2, k3: Kl.k3 } as const

/** The recipe's loss as an `Objective`: a built-in of the loss registry (with the KL and entropy terms), or the user's. */
export const objective = (rl: Recipe["rl"], user?: Objective.Objective): Objective.Objective => {
  const spec: LossSpec = rl.loss
  if (spec.kind === "custom") {
    if (user === undefined) throw new Error(`"${spec.name}" is a user objective: its value comes from the TypeScript recipe that defines it (duet train --recipe FILE.ts)`)
    return user
  }
  const { kind, ...raw } = spec
  const entry = LossRegistry.entry(kind)
  const options = PluginOptions.parseOptions(entry, raw)
  if (entry.family === "pairs") return Objective.dpo(entry.make(options))
  const kl = rl.kl !== undefined && (rl.kl.coef > 0 || rl.kl.adaptive !== undefined)
  const common = (coef: number) => ({
    aggregation: aggregation(rl.aggregation, rl.sampling.maxTokens),
    ...(kl && coef > 0 ? { kl: { coef, estimator: klEstimators[rl.kl!.estimator] } } : {}),
    ...opt("entropyCoef", rl.entropyCoef)
  })
  return Objective.policyGradient({ kl, skipZeroAdvantage: rl.skipZeroAdvantage, loss: (coef) => entry.make(options, common(coef)) })
}

/** The KL coefficient's controller: fixed at `rl.kl.coef`, or adaptive towards a target KL. */
export const klController = (rl: Recipe["rl"]): KlController<{ readonly coef: number }> => {
  const coef = rl.kl?.coef ?? 0
  const adaptive = rl.kl?.adaptive
  return adaptive === undefined ? KlCoefficient.fixedKl(coef) : KlCoefficient.adaptiveKl({ init: coef, target: adaptive.target, horizon: adaptive.horizon })
}

/** The rollout temperature at each RL step. */
export const temperature = (rl: Recipe["rl"]): ScheduleFn =>
  rl.temperatureSchedule === undefined
    ? Temperature.constant(rl.sampling.temperature)
    : Temperature.linear({ start: rl.sampling.temperature, end: rl.temperatureSchedule.end, steps: rl.temperatureSchedule.steps })

/** The RL learning rate at each step: linear warm-up, then constant (the paper's schedule) or cosine / linear decay. */
export const learningRate = (rl: Recipe["rl"]): ScheduleFn => {
  const schedule = rl.lrSchedule ?? { kind: "constant" }
  if (schedule.kind === "constant" || rl.steps <= rl.warmupSteps) return LearningRate.linearWarmup(rl.lr, rl.warmupSteps)
  const decay = { peak: rl.lr, warmup: rl.warmupSteps, total: rl.steps, final: (schedule.final ?? 0) * rl.lr }
  return schedule.kind === "cosine" ? LearningRate.cosine(decay) : LearningRate.linearDecay(decay)
}

export const groupSize = (rl: Recipe["rl"]): GroupSizePolicy =>
  rl.groupSize.kind === "fixed"
    ? GroupSize.fixedGroupSize(rl.groupSize.size)
    : GroupSize.adaptiveGroupSize({ initial: rl.groupSize.initial, max: rl.groupSize.max })
