/**
 * `duet theory`: per estimator, the exact scale and bias of its expected policy gradient against the
 * true gradient on small softmax bandits (enumerated, not sampled), and which of the paper's
 * propositions hold — the numbers behind "2-GRPO is unbiased up to a constant".
 */
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { Registry, byName } from "@duet/estimators"
import { Report } from "@duet/theory"
import { InputError } from "../InputError.js"

/** The user estimator of a TypeScript recipe (the recipe's other fields do not matter here). */
const userEstimator = (file: string) =>
  Effect.gen(function* () {
    const { UserRecipe } = yield* Effect.promise(() => import("@duet/pipeline"))
    if (!UserRecipe.isModule(file)) return yield* new InputError({ message: `--recipe ${file}: give a TypeScript/JavaScript recipe whose defineTrainer has an estimator` })
    const { plugins } = yield* UserRecipe.load(file).pipe(Effect.mapError((e) => new InputError({ message: e.message })))
    if (plugins.estimator === undefined) return yield* new InputError({ message: `${file}: defines no estimator of its own (defineTrainer({ estimator }))` })
    return { name: plugins.estimator.name, transform: plugins.estimator }
  })

export const command = Command.make(
  "theory",
  {
    estimator: Flag.Literals("estimator", Registry.names).pipe(
      Flag.withDescription(`estimator(s) to analyse (repeat the flag; default: every built-in, ${Registry.names.join(", ")})`),
      Flag.atLeast(0)
    ),
    arms: Flag.Int("arms").pipe(Flag.withDescription("arms K of each bandit prompt (default: 3 and 4)"), Flag.optional),
    groupSize: Flag.Int("group-size").pipe(Flag.withDescription("rollouts G per group (default: 2, 4 and 8)"), Flag.optional),
    eps: Flag.Finite("eps").pipe(Flag.withDescription("eps of the std-normalised estimators in the propositions (default 1e-6)"), Flag.optional),
    seed: Flag.Int("seed").pipe(Flag.withDescription("seed of the random bandits (default 0)"), Flag.withDefault(0)),
    recipe: Flag.File("recipe").pipe(
      Flag.withDescription("also analyse the estimator of a TypeScript recipe (its defineTrainer estimator), beside the built-ins asked for"),
      Flag.optional
    )
  },
  (flags) =>
    Effect.gen(function* () {
      const names = flags.estimator.length > 0 ? flags.estimator : Registry.names
      if (Option.isSome(flags.arms) && (flags.arms.value < 2 || flags.arms.value > 16)) {
        return yield* new InputError({ message: `--arms must be between 2 and 16, got ${flags.arms.value}` })
      }
      if (Option.isSome(flags.groupSize) && (flags.groupSize.value < 1 || flags.groupSize.value > 64)) {
        return yield* new InputError({ message: `--group-size must be between 1 and 64, got ${flags.groupSize.value}` })
      }
      const user = Option.isSome(flags.recipe) ? [yield* userEstimator(flags.recipe.value)] : []
      const text = Report.text({
        estimators: [...user, ...names.map((name) => ({ name, transform: byName(name, Option.isSome(flags.eps) ? { eps: flags.eps.value } : {}) }))],
        ...(Option.isSome(flags.arms) ? { arms: flags.arms.value } : {}),
        ...(Option.isSome(flags.groupSize) ? { groupSize: flags.groupSize.value } : {}),
        ...(Option.isSome(flags.eps) ? { eps: flags.eps.value } : {}),
        seed: flags.seed
      })
      yield* Console.log(text)
    })
).pipe(
  Command.withDescription(
    "Exact bias/scale of each estimator's expected policy gradient vs the true gradient on small softmax bandits, and the paper's propositions (4.1, Eq. 8, Lemma 4.3, 4.4) checked numerically."
  ),
  Command.withExamples([
    { command: "duet theory", description: "every built-in estimator, K = 3, 4 and G = 2, 4, 8" },
    { command: "duet theory --estimator grpo --estimator rloo --group-size 8", description: "two estimators at G = 8" },
    { command: "duet theory --recipe examples/custom-estimator.ts --estimator rloo", description: "your own estimator beside RLOO" }
  ])
)
