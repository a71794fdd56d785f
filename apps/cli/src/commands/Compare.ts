/**
 * `duet compare`: the paper's comparison (2- vs 16-GRPO by default, 3 seeds, plus the 2-rollout
 * budget run) under its protocol, from one shared warm start per seed; then the table and the
 * HTML report. Interrupted? Run the same command again: finished runs are skipped, the rest resume.
 */
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { Report } from "@duet/report"
import { InputError } from "../InputError.js"
import * as Progress from "../Progress.js"
import { backends, loadRecipe } from "./Train.js"

const list = (raw: string, flag: string) => {
  const xs = raw.split(",").map((x) => Number(x.trim()))
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1)) {
    return Effect.fail(new InputError({ message: `${flag} expects comma-separated positive integers, got ${JSON.stringify(raw)}` }))
  }
  return Effect.succeed(xs)
}

export const command = Command.make(
  "compare",
  {
    out: Flag.String("out").pipe(Flag.withDescription("comparison directory (default runs/compare)"), Flag.withDefault("runs/compare")),
    groupSizes: Flag.String("group-sizes").pipe(Flag.withDescription("group sizes k to compare (default 2,16)"), Flag.withDefault("2,16")),
    seeds: Flag.String("seeds").pipe(Flag.withDescription("seeds (default 1,2,3)"), Flag.withDefault("1,2,3")),
    noBudget: Flag.Boolean("no-budget").pipe(Flag.withDescription("skip the 2-GRPO budget run"), Flag.withDefault(false)),
    noExtras: Flag.Boolean("no-extras").pipe(
      Flag.withDescription("skip the runs beyond the paper: 2-GRPO without zero-advantage skipping, and the adaptive group size"),
      Flag.withDefault(false)
    ),
    recipe: Flag.File("recipe").pipe(Flag.withDescription("the 2-GRPO base recipe that defines the protocol (default: the built-in one)"), Flag.optional),
    set: Flag.String("set").pipe(Flag.withDescription("override a base-recipe field (repeatable)"), Flag.atLeast(0)),
    backend: Flag.Literals("backend", backends).pipe(Flag.withDefault("auto" as const))
  },
  (flags) =>
    Effect.gen(function* () {
      const groupSizes = yield* list(flags.groupSizes, "--group-sizes")
      const seeds = yield* list(flags.seeds, "--seeds")
      // The built-in comparison trains 2-GRPO for 150 steps (and so 16-GRPO for 1,200): three seeds
      // of both, plus the budget runs, fit in about an hour on 2 cores. `--set rl.steps=N` changes it.
      const base = yield* loadRecipe(flags.recipe, Option.isSome(flags.recipe) ? flags.set : ["rl.steps=150", ...flags.set])
      const { Compare } = yield* Effect.promise(() => import("@duet/pipeline"))
      const reporter = Progress.terminal()
      yield* Compare.run(base, { dir: flags.out, groupSizes, seeds, budget: !flags.noBudget, extras: flags.noExtras ? [] : ["no-skip", "adaptive"], backend: flags.backend, reporter }).pipe(
        Effect.mapError((e) => new InputError({ message: e instanceof Error ? e.message : String((e as { message?: string }).message ?? e) })),
        Effect.ensuring(Effect.sync(() => reporter.done()))
      )
      const largest = Math.max(...groupSizes)
      const smallest = Math.min(...groupSizes)
      const delta: [string, string] | undefined = largest > smallest ? [`${largest}-grpo`, `${smallest}-grpo`] : undefined
      const written = yield* Report.write(flags.out, delta ? { delta } : {}).pipe(Effect.mapError((e) => new InputError({ message: e.message })))
      yield* Console.log(written.text)
      yield* Console.log(`\nwrote ${written.files.html}\nwrote ${written.files.markdown}\nwrote ${written.files.csv}`)
    })
).pipe(
  Command.withDescription(
    "Reproduce the paper's comparison: k-GRPO for each k (same rollouts per step, lr scaled with prompts per step, same epochs, one shared warm start per seed), held-out accuracy over time, a 2-GRPO budget run, then the table and the HTML report."
  ),
  Command.withExamples([
    { command: "duet compare", description: "2 vs 16 over 3 seeds plus the budget run, into runs/compare" },
    { command: "duet compare --group-sizes 2,4,8,16 --seeds 1 --set rl.steps=100", description: "the ablation, one seed, shorter" }
  ])
)
