/**
 * A trainer of your own, as a plain loop over duet's exported stages: prompts -> rollouts (Sampler
 * and Reward services) -> advantages (2-GRPO) -> one PPO-clip update, with a held-out evaluation
 * at the end. Swap any line: another estimator, objective, reward layer or sampler layer.
 *
 *   npx jiti examples/custom-loop.ts
 */
import { Effect, Layer } from "effect"
import { twoGrpo } from "@duet/estimators"
import { ppoClip } from "@duet/losses"
import { Evaluate, Objective, Recipe, Stages } from "@duet/pipeline"
import type { UserRecipe } from "@duet/pipeline"

type Result = { readonly rewards: number[]; readonly evaluation: ReadonlyArray<Evaluate.EvalResult> }

export const customLoop = (fields: UserRecipe.RecipeFields = {}, steps = 60): Effect.Effect<Result, { readonly message: string }> =>
  Effect.gen(function* () {
    const recipe = yield* Recipe.decode(fields, "custom-loop")
    const { setup, learner, sampler, reward } = yield* Stages.start(recipe) // task, policy after SFT, optimizer
    const services = Layer.merge(sampler, reward) // the in-process sampler and the task's 0/1 grade
    const objective = Objective.policyGradient({ loss: () => ppoClip(), kl: false, skipZeroAdvantage: true })
    const rewards: number[] = []
    for (let step = 0; step < steps; step++) {
      const problems = Stages.prompts(setup.splits.train, 128, recipe.seed, step)
      const rollouts = yield* Stages.rollouts({ problems, codec: setup.codec, groupSize: 2, sampling: recipe.rl.sampling, seed: Stages.stepSeed(recipe.seed, step) }).pipe(
        Effect.provide(services)
      )
      const batch = yield* Stages.advantages(twoGrpo(), rollouts, step)
      yield* Stages.update(objective, learner, batch, { lr: recipe.rl.lr, klCoef: 0 })
      rewards.push(rollouts.rows.reduce((sum, r) => sum + r.reward, 0) / rollouts.rows.length)
    }
    const evaluation = yield* Stages.evaluate(recipe, setup).pipe(Effect.provide(services))
    return { rewards, evaluation }
  })

if (process.argv[1]?.endsWith("custom-loop.ts")) {
  const { rewards, evaluation } = await Effect.runPromise(customLoop())
  console.log(`training reward: first 5 steps ${rewards.slice(0, 5).map((r) => r.toFixed(2)).join(" ")} ... last 5 ${rewards.slice(-5).map((r) => r.toFixed(2)).join(" ")}`)
  console.log(Stages.describeEval(evaluation))
}
