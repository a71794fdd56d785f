/**
 * From a recipe to the objects a run needs: the task and its splits, the codec, a fresh policy.
 */
import { Effect } from "effect"
import { Arithmetic, Countdown, DataFile, Dataset, Alphabet } from "@duet/tasks"
import type { Problem, RowFormat, Task } from "@duet/tasks"
import { Gpt, Hf } from "@duet/model"
import { MathAnswer } from "@duet/verifiers"
import type { GptConfig, HfTokenizer, LlamaConfig } from "@duet/model"
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
  /**
   * The GPT's config. Only GPT recipes have one: for a `model: { hf }` recipe reading it throws
   * (`PolicyStore` is the one place that knows the model; use `model`).
   */
  readonly modelConfig: GptConfig
  /** What the policy is: duet's GPT, or a Hugging Face directory with its parsed config (blockSize capped by the recipe) and tokenizer. */
  readonly model: ModelSpec
}

export type ModelSpec =
  | { readonly kind: "gpt"; readonly config: GptConfig }
  | { readonly kind: "hf"; readonly dir: string; readonly config: LlamaConfig; readonly tokenizer: HfTokenizer }

/** The codec and model of a `model: { hf }` recipe: the directory's tokenizer and config, checked up front. */
const hfModel = (model: { readonly hf: string; readonly blockSize: number; readonly chat?: boolean; readonly system?: string }, task: Task.Task) =>
  Effect.try({
    try: () => {
      const config = Hf.readConfig(model.hf)
      const tokenizer = Hf.loadTokenizer(model.hf)
      const codec = Tokens.hfCodec(tokenizer, { stop: task.stop, ...(model.chat === undefined ? {} : { chat: model.chat }), ...(model.system === undefined ? {} : { system: model.system }) })
      const spec: ModelSpec = { kind: "hf", dir: model.hf, config: { ...config, blockSize: Math.min(config.blockSize, model.blockSize) }, tokenizer }
      return { codec, spec }
    },
    catch: (e) => new RecipeError({ message: `model.hf: ${e instanceof Error ? e.message : String(e)}` })
  })

/**
 * Every data row must fit the model: BOS + prompt + demonstration (answer or solution, stop
 * included) within `model.blockSize` (SFT trains on it; evaluation must be able to write the
 * answer). Caught at load, naming the first row's file and line and the blockSize every row
 * needs, instead of at the first SFT step without either.
 */
const fitsBlock = (recipe: Recipe, problems: ReadonlyArray<Problem>, completion: (p: Problem) => string): Effect.Effect<void, RecipeError> => {
  const blockSize = recipe.model.blockSize
  const need = (p: Problem) => 1 + [...p.prompt].length + [...completion(p)].length
  const over = problems.filter((p) => need(p) > blockSize)
  if (over.length === 0) return Effect.void
  const p = over[0]!
  const prompt = 1 + [...p.prompt].length
  const answer = [...completion(p)].length
  const needed = Math.max(...over.map(need))
  return Effect.fail(
    new RecipeError({
      message:
        `${p.id}: the prompt takes ${prompt} tokens (BOS included) and the answer ${answer} (stop included): ` +
        `${prompt + answer} > model.blockSize ${blockSize}` +
        (over.length > 1 ? ` (and ${over.length - 1} more rows)` : "") +
        `; set model.blockSize to at least ${needed} (the longest row) or leave such rows out of the data`
    })
  )
}

/** Loads one data file of a `dataset` (or `jsonl`) task; errors name the recipe field and the file. */
const loadFile = (
  field: string,
  path: string,
  spec: { readonly kind: string; readonly format?: RowFormat.FormatOrAuto; readonly columns?: DataFile.Columns }
) =>
  DataFile.load(path, { ...(spec.kind === "jsonl" ? { container: "jsonl" as const } : {}), ...(spec.format === undefined ? {} : { format: spec.format }), ...(spec.columns === undefined ? {} : { columns: spec.columns }) }).pipe(
    Effect.mapError((e) => new RecipeError({ message: `task.${field}: ${e.message}` }))
  )

/** A task over loaded data files: graded by value (the math-answer verifier), demonstrations from the answer or the solution. */
const dataTask = (
  recipe: Recipe,
  spec: {
    readonly kind: string
    readonly train: string
    readonly test: string
    readonly ood?: string
    readonly format?: RowFormat.FormatOrAuto
    readonly columns?: DataFile.Columns
    readonly sft?: "answer" | "solution"
  },
  name: string
) =>
  Effect.gen(function* () {
    const train = yield* loadFile("train", spec.train, spec)
    const test = yield* loadFile("test", spec.test, spec)
    const ood = spec.ood ? yield* loadFile("ood", spec.ood, spec) : []
    const sft = spec.sft ?? "answer"
    if (sft === "solution" && recipe.sft.steps > 0) {
      const bare = train.slice(0, recipe.sft.examples).find((p) => DataFile.solutionLine(p) === undefined)
      if (bare !== undefined) {
        return yield* new RecipeError({
          message: `task.sft: "solution", but ${bare.id} has no solution column (give task.columns.solution, or task.sft: "answer")`
        })
      }
    }
    const demonstration = (p: Problem) => `${(sft === "solution" ? DataFile.solutionLine(p) : undefined) ?? p.answer}\n`
    yield* fitsBlock(recipe, [...train, ...test, ...ood], demonstration)
    const all = [...train, ...test, ...ood]
    const alphabet = Alphabet.of(...all.flatMap((p) => [p.prompt, p.answer, demonstration(p)]), "\n")
    // Real math data is graded by value (the math-answer verifier), not by string; a solution's
    // final answer (`#### N`, the last box) is what the verifier extracts from the first line.
    const task: Task.Task = {
      name,
      alphabet,
      stop: "\n",
      split: () => [],
      demonstration,
      verify: (completion, p) => MathAnswer.check(completion.split("\n")[0]!, p.answer).correct
    }
    return { task, splits: { train, test, ood } }
  })

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
      // The older spelling of a dataset task (JSONL files in a named format).
      return dataTask(recipe, spec, `jsonl:${spec.format}`)
    case "dataset":
      return dataTask(recipe, spec, `dataset:${typeof spec.format === "string" ? spec.format : spec.columns !== undefined ? "columns" : "auto"}`)
  }
}

/** Held-out training problems the SFT target's probe needs beyond the demonstrated ones. */
const probeSize = (recipe: Recipe): number => (recipe.sft.steps > 0 && recipe.sft.target !== false ? recipe.sft.target.probe : 0)

export const make = (recipe: Recipe): Effect.Effect<Setup, RecipeError> =>
  Effect.gen(function* () {
    const { task, splits: loaded } = yield* taskOf(recipe)
    const hf = "hf" in recipe.model ? yield* hfModel(recipe.model, task) : undefined
    const codec =
      hf?.codec ??
      (yield* Effect.try({
        try: () => Tokens.charCodec(task.alphabet, task.stop),
        catch: (e) => new RecipeError({ message: `task alphabet: ${e instanceof Error ? e.message : String(e)}` })
      }))
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
    if (hf !== undefined) {
      const model = hf.spec
      return {
        task,
        codec,
        splits,
        model,
        get modelConfig(): GptConfig {
          throw new RecipeError({ message: `model.hf: ${model.dir}: a Hugging Face recipe has no GPT config (make the policy with PolicyStore)` })
        }
      } satisfies Setup
    }
    const gptModel = recipe.model
    const modelConfig = yield* Effect.try({
      try: () => Gpt.makeConfig({ ...gptModel, vocabSize: codec.tokenizer.vocabSize }),
      catch: (e) => new RecipeError({ message: `model: ${e instanceof Error ? e.message : String(e)}` })
    })
    return { task, codec, splits, modelConfig, model: { kind: "gpt", config: modelConfig } } satisfies Setup
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
