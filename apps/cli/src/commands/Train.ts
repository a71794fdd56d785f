/**
 * `duet train` and `duet sft`: run a recipe (default: 2-GRPO on arithmetic, warm start included),
 * print held-out accuracy before and after, write metrics/checkpoints to a run directory.
 */
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { existsSync } from "node:fs"
import { readFile } from "node:fs/promises"
import type { TrainSummary } from "@duet/pipeline"
import { InputError } from "../InputError.js"
import * as Progress from "../Progress.js"
import * as EvalEndpoint from "./EvalEndpoint.js"

/** The pipeline (and tfjs) load only when a command needs them: `duet --help` stays fast. */
const pipeline = Effect.promise(() => import("@duet/pipeline"))

export const backends = ["auto", "wasm", "cpu", "tfjs-node", "tfjs-node-gpu"] as const

const recipeFlag = Flag.File("recipe").pipe(
  Flag.withDescription(
    "recipe file (YAML or JSON), or a TypeScript/JavaScript module whose default export is defineTrainer({ recipe, estimator, reward }) (see examples/); fields not given keep the defaults (see recipes/)"
  ),
  Flag.optional
)
const setFlag = Flag.String("set").pipe(
  Flag.withDescription("override a recipe field, e.g. --set rl.steps=50 --set rl.estimator.kind=rloo (repeatable)"),
  Flag.atLeast(0)
)
const threadsFlag = Flag.Int("threads").pipe(
  Flag.withDescription(
    "GEMM threads (default 1). Large GEMMs are split by shape alone: on duet's native GEMM (the default path) the metrics are bit-identical for any count; on OpenBLAS the same count gives the same metrics"
  ),
  Flag.withDefault(1)
)
const outFlag = Flag.String("out").pipe(Flag.withDescription("run directory (default runs/<recipe name>-<time>)"), Flag.optional)
const backendFlag = Flag.Literals("backend", backends).pipe(
  Flag.withDescription("tfjs backend: auto picks tfjs-node-gpu/tfjs-node when installed, else wasm with duet's kernels"),
  Flag.withDefault("auto" as const)
)

export const loadRecipe = (file: Option.Option<string>, sets: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const { UserRecipe } = yield* pipeline
    if (Option.isSome(file) && UserRecipe.isModule(file.value)) {
      return yield* new InputError({ message: `${file.value}: a TypeScript recipe carries plugin values; run it with duet train (this command takes YAML/JSON recipes)` })
    }
    const text = Option.isSome(file)
      ? yield* Effect.tryPromise({
          try: () => readFile(file.value, "utf8"),
          catch: (e) => new InputError({ message: `cannot read recipe ${file.value}: ${(e as Error).message}` })
        })
      : undefined
    const { Recipe } = yield* pipeline
    return yield* Recipe.load(Option.getOrUndefined(file), text, sets).pipe(Effect.mapError((e) => new InputError({ message: e.message })))
  })

/** A recipe with its user plugin values: a TypeScript/JavaScript module's, or a YAML/JSON file's (none). */
export const loadTrainer = (file: Option.Option<string>, sets: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const { UserRecipe } = yield* pipeline
    if (Option.isSome(file) && UserRecipe.isModule(file.value)) {
      return yield* UserRecipe.load(file.value, sets).pipe(Effect.mapError((e) => new InputError({ message: e.message })))
    }
    return { recipe: yield* loadRecipe(file, sets), plugins: {} }
  })

/** The recipe a run directory was started with (`DIR/recipe.json`). */
const storedRecipe = (dir: string) =>
  Effect.gen(function* () {
    const path = `${dir}/recipe.json`
    const text = yield* Effect.tryPromise({
      try: () => readFile(path, "utf8"),
      catch: (e) => new InputError({ message: `--resume: cannot read ${path} (${(e as Error).message}); is ${dir} a run directory?` })
    })
    const { Recipe } = yield* pipeline
    const json = yield* Recipe.parseText(text, path).pipe(Effect.mapError((e) => new InputError({ message: e.message })))
    return yield* Recipe.decode(json, path).pipe(Effect.mapError((e) => new InputError({ message: e.message })))
  })

const stamp = () => new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-")

const pct = (x: number) => `${(100 * x).toFixed(1)}`

export const formatSummary = (s: TrainSummary): string => {
  const lines = [
    `recipe ${s.recipe}: ${s.steps} RL steps, ${s.rollouts.toLocaleString("en-US")} rollouts, ${s.tokens.toLocaleString("en-US")} tokens; ` +
      `time ${s.seconds.total.toFixed(0)}s (sft ${s.seconds.sft.toFixed(0)}s, rl ${s.seconds.rl.toFixed(0)}s, eval ${s.seconds.eval.toFixed(0)}s)`,
    "",
    "split  metric      before   after   delta"
  ]
  for (const b of s.before) {
    const a = s.after.find((x) => x.split === b.split)
    if (!a) continue
    for (const [name, key] of [[`Mean@${b.n}`, "meanAtN"], [`Pass@${b.n}`, "passAtN"]] as const) {
      const d = 100 * (a[key] - b[key])
      lines.push(
        `${b.split.padEnd(5)}  ${name.padEnd(8)}  ${pct(b[key]).padStart(6)}%  ${pct(a[key]).padStart(6)}%  ${(d >= 0 ? "+" : "") + d.toFixed(1)}`
      )
    }
  }
  return lines.join("\n")
}

const run = (mode: "train" | "sft") =>
  (flags: {
    readonly recipe: Option.Option<string>
    readonly set: ReadonlyArray<string>
    readonly out: Option.Option<string>
    readonly resume: boolean
    readonly backend: (typeof backends)[number]
    readonly threads: number
    readonly init?: Option.Option<string>
    readonly model?: Option.Option<string>
  }) =>
    Effect.gen(function* () {
      if (flags.resume && Option.isNone(flags.out)) {
        return yield* new InputError({ message: "--resume needs --out DIR (the run directory to continue)" })
      }
      // `--resume --out DIR` alone continues the run with its own recipe.json; given a recipe or
      // --set, the trainer checks it is the same run's.
      const ownRecipe = flags.resume && mode === "train" && Option.isNone(flags.recipe) && flags.set.length === 0
      const model = flags.model === undefined ? undefined : Option.getOrUndefined(flags.model)
      const sets = model === undefined ? flags.set : [`model=${JSON.stringify({ hf: model })}`, ...flags.set]
      const trainer = ownRecipe ? { recipe: yield* storedRecipe(Option.getOrThrow(flags.out)), plugins: {} } : yield* loadTrainer(flags.recipe, sets)
      let recipe = trainer.recipe
      if (mode === "sft") recipe = { ...recipe, name: `${recipe.name}-sft`, rl: { ...recipe.rl, steps: 0 } }
      const runDir = Option.getOrElse(flags.out, () => `runs/${recipe.name}-${stamp()}`)
      const { Train } = yield* pipeline
      const reporter = Progress.terminal()
      reporter.log(`duet ${mode}: recipe "${recipe.name}" -> ${runDir}`)
      const initFrom = flags.init === undefined ? undefined : Option.getOrUndefined(flags.init)
      if (initFrom !== undefined && flags.resume) return yield* new InputError({ message: "--init starts a new run; it cannot be combined with --resume" })
      if (!(flags.threads >= 1)) return yield* new InputError({ message: `--threads must be at least 1; got ${flags.threads}` })
      const summary = yield* Train.train(recipe, { runDir, resume: flags.resume, backend: flags.backend, threads: flags.threads, reporter, plugins: trainer.plugins, ...(initFrom ? { initFrom } : {}) }).pipe(
        Effect.mapError((e) => new InputError({ message: e.message })),
        Effect.ensuring(Effect.sync(() => reporter.done())),
        Effect.onInterrupt(() =>
          Effect.sync(() =>
            process.stderr.write(
              existsSync(`${runDir}/checkpoints/latest`)
                ? `duet ${mode}: interrupted; continue from the last checkpoint with: duet train --out ${runDir} --resume\n`
                : `duet ${mode}: interrupted before the first checkpoint (the one after SFT and the first evaluation); nothing to resume in ${runDir}\n`
            )
          )
        )
      )
      if (summary) {
        yield* Console.log(formatSummary(summary))
        yield* Console.log(`\nmetrics: ${runDir}/metrics.jsonl   checkpoints: ${runDir}/checkpoints/   summary: ${runDir}/summary.json`)
      }
    })

export const train = Command.make(
  "train",
  {
    recipe: recipeFlag,
    set: setFlag,
    out: outFlag,
    resume: Flag.Boolean("resume").pipe(Flag.withDescription("continue the run in --out from its latest checkpoint"), Flag.withDefault(false)),
    backend: backendFlag,
    threads: threadsFlag,
    init: Flag.String("init").pipe(
      Flag.withDescription("start RL from this checkpoint directory (e.g. a `duet sft` run's checkpoints/step-000000) instead of the recipe's SFT"),
      Flag.optional
    ),
    model: Flag.Directory("model").pipe(
      Flag.withDescription("a Hugging Face model directory (Llama, Qwen2, Qwen3: config.json, safetensors, tokenizer.json) as the policy; same as --set model.hf=DIR"),
      Flag.optional
    )
  },
  run("train")
).pipe(
  Command.withDescription(
    "Train a policy with RL on a verifiable task: SFT warm start, then (by default) 2-GRPO; prints held-out Mean@n / Pass@n before and after, in- and out-of-distribution."
  ),
  Command.withExamples([
    { command: "duet train", description: "the default: 2-GRPO on arithmetic, a few minutes on 2 CPU cores" },
    { command: "duet train --recipe recipes/16-grpo.yaml", description: "the paper's 16-GRPO baseline" },
    { command: "duet train --set rl.estimator.kind=rloo", description: "swap the estimator in one flag" },
    { command: "duet train --recipe examples/custom-estimator.ts", description: "your own estimator (any AdvantageTransform) from a TypeScript recipe" },
    { command: "duet train --model ~/models/Qwen2.5-0.5B-Instruct --set model.chat=true", description: "RL on a Hugging Face checkpoint of your own" },
    { command: "duet train --out runs/a --resume", description: "continue an interrupted run" },
    { command: "duet train --init runs/s/checkpoints/step-000000 --recipe rl.yaml", description: "RL from an existing warm start" }
  ])
)

export const sft = Command.make(
  "sft",
  {
    recipe: recipeFlag,
    set: setFlag,
    out: outFlag,
    resume: Flag.Boolean("resume").pipe(Flag.withDescription("(unused for sft)"), Flag.withDefault(false), Flag.withHidden),
    backend: backendFlag,
    threads: threadsFlag
  },
  run("sft")
).pipe(
  Command.withDescription("Supervised warm start only (the recipe's sft section) on task demonstrations; evaluates and saves a checkpoint.")
)

export const evaluate = Command.make(
  "eval",
  {
    checkpoint: Argument.Directory("checkpoint").pipe(Argument.withDescription("checkpoint directory (e.g. runs/x/checkpoints/step-000150); or give --endpoint"), Argument.optional),
    n: Flag.Int("n").pipe(Flag.withDescription("samples per problem (Mean@n, Pass@n); default: the recipe's (4 with --endpoint)"), Flag.optional),
    problems: Flag.Int("problems").pipe(Flag.withDescription("problems per split; default: the recipe's (with --endpoint: the first N of --data)"), Flag.optional),
    backend: backendFlag,
    ...EvalEndpoint.flags
  },
  (flags) =>
    Effect.gen(function* () {
      if (Option.isSome(flags.endpoint)) return yield* EvalEndpoint.run(flags)
      if (Option.isNone(flags.checkpoint)) return yield* new InputError({ message: "give a checkpoint directory, or --endpoint URL --data FILE" })
      const { Train } = yield* pipeline
      const reporter = Progress.terminal()
      const results = yield* Train.evaluateCheckpoint(flags.checkpoint.value, {
        ...(Option.isSome(flags.n) ? { n: flags.n.value } : {}),
        ...(Option.isSome(flags.problems) ? { problems: flags.problems.value } : {}),
        backend: flags.backend,
        reporter
      }).pipe(
        Effect.mapError((e) => new InputError({ message: e.message })),
        Effect.ensuring(Effect.sync(() => reporter.done()))
      )
      for (const r of results) {
        yield* Console.log(
          `${r.split.padEnd(5)} Mean@${r.n} ${pct(r.meanAtN)}%  Pass@${r.n} ${pct(r.passAtN)}%  (${r.problems} problems, ${r.meanResponseTokens.toFixed(1)} tokens/answer)`
        )
      }
    })
).pipe(
  Command.withDescription(
    "Evaluate a checkpoint written by duet train (Mean@n and Pass@n on its task's test and OOD splits), or any OpenAI-compatible server with --endpoint URL --data FILE."
  )
)
