/**
 * User plugin VALUES a run takes instead of the ones its recipe names: any `AdvantageTransform` as
 * the estimator, a real-valued reward function in place of the task's 0/1 grade (training only:
 * evaluation keeps grading correctness), and any `Objective` as the update. The recipe records each
 * by name (`rl.estimator`, `rl.reward`, `rl.loss` as `{ kind: "custom", name }`), so `recipe.json`
 * says what the run used and a resume without the values is refused instead of silently training
 * with something else.
 */
import { Effect } from "effect"
import type { AnyAdvantageTransform } from "@duet/core"
import type { Objective } from "./Objective.js"
import type { Recipe } from "./Recipe.js"
import { RecipeError } from "./Recipe.js"
import type { RewardFn } from "./Reward.js"

/**
 * A reward: a finite number for a completion (its decoded text, as the task's grader sees it: the
 * stop token ends it) of a problem. Higher is better; the estimator turns rewards into advantages.
 */
export type Reward = RewardFn

export interface Plugins {
  /** Used instead of `rl.estimator` (recorded as `{ kind: "custom", name: estimator.name }`). */
  readonly estimator?: AnyAdvantageTransform | undefined
  /** Used instead of the task's 0/1 grade in training (recorded as `{ kind: "custom", name: reward.name }`). */
  readonly reward?: Reward | undefined
  /** Used instead of `rl.loss` (recorded as `{ kind: "custom", name: objective.name }`). */
  readonly objective?: Objective | undefined
}

/** The name a user estimator is recorded by: its own (`chain` joins its blocks' names), else "estimator". */
export const estimatorName = (estimator: AnyAdvantageTransform): string => (typeof estimator.name === "string" && estimator.name !== "" ? estimator.name : "estimator")

/** The name a reward function is recorded by: its own (`const formatAndCorrect = ...`), else "reward". */
export const rewardName = (reward: Reward): string => (reward.name === "" ? "reward" : reward.name)

/** The name a user objective is recorded by. */
export const objectiveName = (objective: Objective): string => (typeof objective.name === "string" && objective.name !== "" ? objective.name : "objective")

const isTransform = (x: unknown): x is AnyAdvantageTransform =>
  typeof x === "object" && x !== null && typeof (x as AnyAdvantageTransform).init === "function" && typeof (x as AnyAdvantageTransform).update === "function"

const isObjective = (x: unknown): x is Objective =>
  typeof x === "object" && x !== null && typeof (x as Objective).step === "function" && typeof (x as Objective).needsReference === "boolean"

const noValue = (path: string, what: string, name: string) =>
  `the user ${what} "${name}" has no value here: run the TypeScript recipe that defines it (duet train --recipe FILE.ts)` +
  (path === "rl.estimator" ? ", or name a built-in estimator" : "")

/**
 * The recipe a run records for these plugins: each given value becomes `{ kind: "custom", name }` in
 * its field (a recipe naming a different custom plugin is refused), and a recipe recording a custom
 * plugin needs its value. The user estimator's minimum group size is checked against `rl.groupSize`.
 */
export const bind = (recipe: Recipe, plugins: Plugins = {}): Effect.Effect<Recipe, RecipeError> =>
  Effect.gen(function* () {
    const fail = (path: string, message: string) => Effect.fail(new RecipeError({ message: `${path}: ${message}` }))
    let rl = recipe.rl
    const { estimator, reward, objective } = plugins
    if (estimator !== undefined) {
      if (!isTransform(estimator)) return yield* fail("estimator", "must be an AdvantageTransform ({ name, minGroupSize, init, update }), e.g. chain(subtractGroupMean(), scaleBy(0.5))")
      const name = estimatorName(estimator)
      if (rl.estimator.kind === "custom" && rl.estimator.name !== name) {
        return yield* fail("rl.estimator", `the recipe records the user estimator "${rl.estimator.name}" but the one given is "${name}"`)
      }
      const g = rl.groupSize
      const smallest = g.kind === "fixed" ? g.size : g.initial
      if (smallest < estimator.minGroupSize) {
        return yield* fail("rl.groupSize", `the user estimator "${name}" needs groups of at least ${estimator.minGroupSize}, the recipe has ${smallest}`)
      }
      rl = { ...rl, estimator: { kind: "custom", name } }
    } else if (rl.estimator.kind === "custom") {
      return yield* fail("rl.estimator", noValue("rl.estimator", "estimator", rl.estimator.name))
    }
    if (reward !== undefined) {
      if (typeof reward !== "function") return yield* fail("reward", "must be a function (completion: string, problem) => number")
      const name = rewardName(reward)
      if (rl.reward !== undefined && rl.reward.kind === "custom" && rl.reward.name !== name) {
        return yield* fail("rl.reward", `the recipe records the user reward "${rl.reward.name}" but the one given is "${name}"`)
      }
      rl = { ...rl, reward: { kind: "custom", name } }
    } else if (rl.reward !== undefined && rl.reward.kind === "custom") {
      return yield* fail("rl.reward", noValue("rl.reward", "reward", rl.reward.name))
    }
    if (objective !== undefined) {
      if (!isObjective(objective)) return yield* fail("objective", "must be an Objective ({ name, needsReference, step }), e.g. Objective.policyGradient({ ... })")
      const name = objectiveName(objective)
      if (rl.loss.kind === "custom" && rl.loss.name !== name) {
        return yield* fail("rl.loss", `the recipe records the user objective "${rl.loss.name}" but the one given is "${name}"`)
      }
      rl = { ...rl, loss: { kind: "custom", name } }
    } else if (rl.loss.kind === "custom") {
      return yield* fail("rl.loss", noValue("rl.loss", "objective", rl.loss.name))
    }
    return rl === recipe.rl ? recipe : { ...recipe, rl }
  })
