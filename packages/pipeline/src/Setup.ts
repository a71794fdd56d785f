/**
 * From a recipe to the objects a run needs: the task and its splits, the codec, a fresh policy.
 */
import { Effect } from "effect"
import { Arithmetic, Countdown, Jsonl, Dataset, Alphabet } from "@duet/tasks"
import type { Problem, Task } from "@duet/tasks"
import { Gpt } from "@duet/model"
import { MathAnswer } from "@duet/verifiers"
import type { GptConfig } from "@duet/model"
import type { Recipe } from "./Recipe.js"
import * as Tokens from "./Tokens.js"
import { RecipeError } from "./Recipe.js"

export interface Splits {
  readonly train: ReadonlyArray<Problem>
  readonly test: ReadonlyArray<Problem>
  readonly ood: ReadonlyArray<Problem>
}

export interface Setup {
  readonly task: Task.Task
  readonly codec: Tokens.Codec
  readonly splits: Splits
  readonly modelConfig: GptConfig
}

/**
 * Every data row must fit the model: BOS + prompt + answer + stop within `model.blockSize` (SFT trains
 * on it; evaluation must be able to write the answer). Caught at load, naming the first row's file
 * and line, instead of at the first SFT step without either.
 */
const fitsBlock = (recipe: Recipe, problems: ReadonlyArray<Problem>): Effect.Effect<void, RecipeError> => {
  const blockSize = recipe.model.blockSize
  const over = problems.filter((p) => 1 + [...p.prompt].length + [...p.answer].length + 1 > blockSize)
  if (over.length === 0) return Effect.void
  const p = over[0]!
  const prompt = 1 + [...p.prompt].length
  const answer = [...p.answer].length + 1
  return Effect.fail(
    new RecipeError({
      message:
        `${p.id}: the prompt takes ${prompt} tokens (BOS included) and the answer ${answer} (stop included): ` +
        `${prompt + answer} > model.blockSize ${blockSize}` +
        (over.length > 1 ? ` (and ${over.length - 1} more rows)` : "") +
        "; raise model.blockSize or leave such rows out of the data"
    })
  )
}

const taskOf = (recipe: Recipe): Effect.Effect<{ task: Task.Task; splits?: Splits }, RecipeError> => {
  const spec = recipe.task
  const guard = <A>(f: () => A) =>
    Effect.try({ try: f, catch: (e) => new RecipeError({ message: `task: ${e instanceof Error ? e.message : String(e)}` }) })
  switch (spec.kind) {
    case "arithmetic":
      return guard(() => ({
        task: Arithmetic.task({
          ...(spec.ops ? { ops: spec.ops } : {}),
          ...(spec.digits ? { digits: spec.digits } : {}),
          ...(spec.oodDigits ? { oodDigits: spec.oodDigits } : {}),
          ...(spec.reversed !== undefined ? { reversed: spec.reversed } : {})
        })
      }))
    case "countdown":
      return guard(() => ({ task: Countdown.task(spec.numbers ? { count: { min: spec.numbers, max: spec.numbers } } : {}) }))
    case "jsonl":
      return Effect.gen(function* () {
        const load = (path: string) =>
          Jsonl.load(path, { format: spec.format }).pipe(Effect.mapError((e) => new RecipeError({ message: e.message })))
        const train = yield* load(spec.train)
        const test = yield* load(spec.test)
        const ood = spec.ood ? yield* load(spec.ood) : []
        yield* fitsBlock(recipe, [...train, ...test, ...ood])
        const alphabet = Alphabet.of(...[...train, ...test, ...ood].flatMap((p) => [p.prompt, p.answer]), "\n")
        // Real math data is graded by value (the math-answer verifier), not by string.
        const task: Task.Task = {
          name: `jsonl:${spec.format}`,
          alphabet,
          stop: "\n",
          split: () => [],
          demonstration: (p) => `${p.answer}\n`,
          verify: (completion, p) => MathAnswer.check(completion.split("\n")[0]!, p.answer).correct
        }
        return { task, splits: { train, test, ood } }
      })
  }
}

/** Held-out training problems the SFT target's probe needs beyond the demonstrated ones. */
const probeSize = (recipe: Recipe): number => (recipe.sft.steps > 0 && recipe.sft.target !== false ? recipe.sft.target.probe : 0)

export const make = (recipe: Recipe): Effect.Effect<Setup, RecipeError> =>
  Effect.gen(function* () {
    const { task, splits: loaded } = yield* taskOf(recipe)
    const codec = yield* Effect.try({
      try: () => Tokens.charCodec(task.alphabet, task.stop),
      catch: (e) => new RecipeError({ message: `task alphabet: ${e instanceof Error ? e.message : String(e)}` })
    })
    const seed = recipe.seed
    const splits: Splits =
      loaded ??
      (yield* Effect.gen(function* () {
        // A split the task cannot fill is named by the recipe fields that asked for it.
        const draw = (split: "train" | "test" | "ood", size: number, fields: string) =>
          Effect.try({
            try: () => task.split(split, { size, seed }),
            catch: (e) => new RecipeError({ message: `${fields}: ${e instanceof Error ? e.message : String(e)}` })
          })
        const trainSize = Math.max(recipe.rl.trainProblems, recipe.sft.examples + probeSize(recipe))
        const trainFields = trainSize === recipe.rl.trainProblems ? "rl.trainProblems" : probeSize(recipe) > 0 ? "sft.examples + sft.target.probe" : "sft.examples"
        return {
          train: yield* draw("train", trainSize, trainFields),
          test: yield* draw("test", recipe.eval.problems, "eval.problems"),
          ood: yield* draw("ood", recipe.eval.problems, "eval.problems")
        }
      }))
    const modelConfig = yield* Effect.try({
      try: () => Gpt.makeConfig({ ...recipe.model, vocabSize: codec.tokenizer.vocabSize }),
      catch: (e) => new RecipeError({ message: `model: ${e instanceof Error ? e.message : String(e)}` })
    })
    return { task, codec, splits, modelConfig }
  })

/** Grades a completion against its problem: the task's own exact check when it has one. */
export const grade = (task: Task.Task, completion: string, problem: Problem): boolean =>
  task.verify ? task.verify(completion, problem) : completion.split(task.stop)[0]!.trim() === problem.answer

export const describeSplits = (splits: Splits): string =>
  Dataset.describe([
    Dataset.make("task", "train", splits.train),
    Dataset.make("task", "test", splits.test),
    Dataset.make("task", "ood", splits.ood)
  ])
