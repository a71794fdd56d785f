/**
 * A recipe: one training run as plain data (JSON or YAML), decoded with Effect Schema into typed
 * values. Every plugin kind is a closed tagged union (`kind`), so a bad recipe fails at decode time
 * with the path of the bad field (`at ["rl"]["estimator"]["kind"]`). Defaults live here, in one place.
 */
import { Cause, Effect, Schema } from "effect"
import { formatSchemaIssues } from "@duet/core"
import { Registry } from "@duet/estimators"
import * as Yaml from "yaml"
import * as PluginSchemas from "./PluginSchemas.js"
import * as RecipeChecks from "./RecipeChecks.js"

const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const NonNegative = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))
const Probability = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))
/** (0, 1]: top-p 0 would keep no token. */
const NucleusMass = Schema.Finite.check(Schema.isGreaterThan(0), Schema.isLessThanOrEqualTo(1))
/** > 0: a clipping norm of 0 would zero every gradient (AdamW refuses it). */
const PositiveNumber = Schema.Finite.check(Schema.isGreaterThan(0))
const Range = Schema.Struct({ min: PositiveInt, max: PositiveInt })

// ---- task -------------------------------------------------------------------------------------
export const ArithmeticTask = Schema.Struct({
  kind: Schema.Literal("arithmetic"),
  ops: Schema.optionalKey(Schema.Array(Schema.Literals(["+", "-", "*"]))),
  digits: Schema.optionalKey(Range),
  oodDigits: Schema.optionalKey(Range),
  /** Answers written least-significant digit first (easier for small models: carries flow left to right). */
  reversed: Schema.optionalKey(Schema.Boolean)
})
export const CountdownTask = Schema.Struct({
  kind: Schema.Literal("countdown"),
  numbers: Schema.optionalKey(PositiveInt)
})
export const JsonlTask = Schema.Struct({
  kind: Schema.Literal("jsonl"),
  train: Schema.String,
  test: Schema.String,
  ood: Schema.optionalKey(Schema.String),
  format: Schema.Literals(["gsm8k", "math"]),
  /** SFT demonstrations: the bare gold answer (default) or the row's worked solution on one line. */
  sft: Schema.optionalKey(Schema.Literals(["answer", "solution"]))
})
/**
 * Data files, JSONL or Parquet by extension: `format` names the row shape (default "auto": from
 * the first row's columns) or `columns` maps the fields of any other shape (dot paths).
 */
export const DatasetTask = Schema.Struct({
  kind: Schema.Literal("dataset"),
  train: Schema.String,
  test: Schema.String,
  ood: Schema.optionalKey(Schema.String),
  format: Schema.optionalKey(Schema.Literals(["gsm8k", "math", "verl", "dapo", "auto"])),
  columns: Schema.optionalKey(
    Schema.Struct({
      prompt: Schema.String,
      answer: Schema.String,
      solution: Schema.optionalKey(Schema.String),
      gold: Schema.optionalKey(Schema.Literals(["as-is", "after-hashes", "last-boxed"]))
    })
  ),
  /** SFT demonstrations: the bare gold answer (default) or the row's worked solution on one line. */
  sft: Schema.optionalKey(Schema.Literals(["answer", "solution"]))
})
export const Task = Schema.Union([ArithmeticTask, CountdownTask, JsonlTask, DatasetTask])

// ---- model ------------------------------------------------------------------------------------
/** duet's char-level GPT, initialised at random from the seed. */
export const GptModel = Schema.Struct({
  nLayer: PositiveInt,
  nHead: PositiveInt,
  nEmbd: PositiveInt,
  blockSize: PositiveInt
})
/** A Hugging Face model directory (Llama, Qwen2, Qwen3): its weights, tokenizer and chat template. */
export const HfModel = Schema.Struct({
  hf: Schema.String,
  /** Longest row (prompt + completion tokens) of the run; capped at the model's max_position_embeddings. Default 1024. */
  blockSize: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1024))),
  /** Prompts through the tokenizer's chat template as one user message (default false: raw text, as TRL and verl on plain prompts). */
  chat: Schema.optionalKey(Schema.Boolean),
  /** A system message before each chat prompt. */
  system: Schema.optionalKey(Schema.String)
})
export const Model = Schema.Union([GptModel, HfModel])

// ---- sampling ---------------------------------------------------------------------------------
export const Sampling = Schema.Struct({
  temperature: NonNegative,
  topP: NucleusMass,
  topK: NonNegativeInt,
  maxTokens: PositiveInt
})

// ---- warm start -------------------------------------------------------------------------------
export const Sft = Schema.Struct({
  steps: NonNegativeInt,
  batchSize: PositiveInt,
  lr: NonNegative,
  /** Distinct training problems with demonstrations (fewer = weaker starting policy). */
  examples: PositiveInt,
  /** Share of demonstrations replaced by a plausible wrong answer (a deliberately noisy teacher). */
  noise: Probability,
  /** Linear learning-rate warm-up steps (HF's `warmup_steps`). */
  warmupSteps: NonNegativeInt,
  /** After warm-up: `cosine` decay to 10% of `lr` at `steps`, or `constant`. */
  schedule: Schema.Literals(["cosine", "constant"]),
  /** AdamW decoupled weight decay (matrices only, as HF Trainer). */
  weightDecay: NonNegative,
  /**
   * Stop SFT once greedy accuracy on `probe` held-out training problems (not among the `examples`
   * demonstrated) reaches `greedyAccuracy`, checked every `every` steps; `steps` is then the cap.
   * A warm start defined by where it lands, not by a step count on a knife edge. `false`: run all `steps`.
   */
  target: Schema.Union([Schema.Struct({ greedyAccuracy: Probability, every: PositiveInt, probe: PositiveInt }), Schema.Literal(false)])
})

// ---- RL plugins -------------------------------------------------------------------------------
export const GroupSize = Schema.Union([
  Schema.Struct({ kind: Schema.Literal("fixed"), size: PositiveInt }),
  Schema.Struct({ kind: Schema.Literal("adaptive"), initial: PositiveInt, max: PositiveInt })
])
/** One member per built-in estimator of `@duet/estimators` `Registry` (its options included), plus `custom`. */
export const Estimator = PluginSchemas.Estimator
export const Aggregation = Schema.Literals(["token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm"])
export const Kl = Schema.Struct({
  /** The coefficient (the initial one when `adaptive`). */
  coef: NonNegative,
  estimator: Schema.Literals(["k1", "abs", "k2", "k3"]),
  /** Adaptive coefficient (Ziegler et al. 2019, TRL/verl `AdaptiveKLController`): steer the measured KL towards `target` over `horizon` samples. */
  adaptive: Schema.optionalKey(Schema.Struct({ target: PositiveNumber, horizon: PositiveNumber }))
})
/** The RL learning rate after `rl.warmupSteps`: constant (the paper), or cosine / linear decay to `final` x lr at `rl.steps` (verl `warmup_style`, `min_lr_ratio`). */
export const LrSchedule = Schema.Union([
  Schema.Struct({ kind: Schema.Literal("constant") }),
  Schema.Struct({ kind: Schema.Literals(["cosine", "linear"]), final: Schema.optionalKey(Probability) })
])
/** Rollout temperature moving linearly from `rl.sampling.temperature` to `end` over `steps` RL steps, then held. */
export const TemperatureSchedule = Schema.Struct({ end: NonNegative, steps: PositiveInt })
/** The built-in losses of `@duet/losses` `Registry` with their options, plus `{ kind: "custom", name }` (a user's Objective). */
export const Loss = PluginSchemas.Loss

/**
 * Where rollouts come from: `local` (the in-process policy, the default) or `http`, OpenAI-compatible
 * servers (`duet serve`, vLLM, SGLang) through `@duet/samplers` `HttpSampler` (see `RolloutSource`).
 */
export const RolloutSampler = Schema.Union([
  Schema.Struct({ kind: Schema.Literal("local") }),
  Schema.Struct({
    kind: Schema.Literal("http"),
    /** Base URLs, e.g. `http://127.0.0.1:8000/v1`; groups spread over all of them. */
    baseUrls: Schema.Array(Schema.String).check(Schema.isMinLength(1)),
    /** The `model` field of each request (default: the first server's only model). */
    model: Schema.optionalKey(Schema.String),
    /** Most requests in flight (default 8; the number of prompts per step lets a server batch a whole step). */
    concurrency: Schema.optionalKey(PositiveInt),
    /** Time limit of one attempt in ms (default 120000). */
    timeoutMs: Schema.optionalKey(PositiveInt),
    /** Retries of a request after its first attempt (default 6). */
    retries: Schema.optionalKey(NonNegativeInt),
    /** Most rollouts one request asks for, whole groups packed together (default 128). */
    rowsPerRequest: Schema.optionalKey(PositiveInt),
    /** After each update, save the policy and `POST /update_weights_from_disk` to every server (default true). */
    pushWeights: Schema.optionalKey(Schema.Boolean),
    /** Recompute every rollout's log-probs locally, not only those the server did not return (default false). */
    recomputeLogprobs: Schema.optionalKey(Schema.Boolean)
  })
])

export const Rl = Schema.Struct({
  /** Optimizer steps (one batch of rollouts each). */
  steps: NonNegativeInt,
  promptsPerStep: PositiveInt,
  groupSize: GroupSize,
  estimator: Estimator,
  /** Absent: the task's 0/1 grade. `{ kind: "custom", name }`: a user's real-valued reward (a TypeScript recipe). */
  reward: Schema.optionalKey(PluginSchemas.Reward),
  loss: Loss,
  aggregation: Aggregation,
  kl: Schema.optionalKey(Kl),
  /** Entropy bonus coefficient (verl `entropy_coeff`; the loss subtracts coef x aggregated token entropy). Default 0. */
  entropyCoef: Schema.optionalKey(Schema.Finite),
  lr: NonNegative,
  warmupSteps: NonNegativeInt,
  /** Default `{ kind: constant }`. */
  lrSchedule: Schema.optionalKey(LrSchedule),
  /** Default: `rl.sampling.temperature` at every step. */
  temperatureSchedule: Schema.optionalKey(TemperatureSchedule),
  weightDecay: NonNegative,
  maxGradNorm: PositiveNumber,
  /** Skip rows with advantage 0 in forward/backward (normalisers still count them). */
  skipZeroAdvantage: Schema.Boolean,
  sampling: Sampling,
  /** Distinct training prompts (an epoch); steps cycle through them in a seeded order. */
  trainProblems: PositiveInt,
  /** Absent: `{ kind: "local" }`. */
  sampler: Schema.optionalKey(RolloutSampler)
})

export const Eval = Schema.Struct({
  /** Samples per problem: Mean@n and Pass@n. */
  n: PositiveInt,
  problems: PositiveInt,
  /** Evaluate every this many RL steps (0 = only before and after). */
  every: NonNegativeInt,
  sampling: Sampling
})

const Off = Schema.Literal(false)
/** Run guards (see `Guards.ts`); `false` turns one off. */
export const Guards = Schema.Struct({
  /** Warn when test Pass@n (needs eval.every) falls below the start's by more than this. */
  passDrop: Schema.Union([Probability, Off]),
  /** Warn when the rollouts' mean per-token entropy (nats) falls below this. */
  minEntropy: Schema.Union([NonNegative, Off]),
  /** Warn when at least this share of groups has equal rewards for `patience` steps in a row. */
  zeroAdvantage: Schema.Union([Probability, Off]),
  patience: PositiveInt,
  /** `warn` logs and goes on; `stop` also ends RL there (with a checkpoint and the final evaluation). */
  action: Schema.Literals(["warn", "stop"])
})

export const RecipeSchema = Schema.Struct({
  name: Schema.String,
  seed: Schema.Int,
  task: Task,
  model: Model,
  sft: Sft,
  rl: Rl,
  eval: Eval,
  guards: Guards,
  /** Save a checkpoint every this many RL steps (0 = only at the end). */
  checkpointEvery: NonNegativeInt,
  /** Keep only the newest this many checkpoints (step 0, the warm start, always stays); absent = keep all. */
  checkpointKeepLast: Schema.optionalKey(PositiveInt),
  /**
   * Checkpoints (replaces `checkpointEvery` / `checkpointKeepLast`): save every `every` RL steps (0 =
   * only at the end), keep the newest `keepLast` (absent = all) and, with `keepBest` (default true),
   * the one with the best test Mean@n among those evaluated (`checkpoints/best` names it).
   */
  checkpoint: Schema.optionalKey(Schema.Struct({ every: NonNegativeInt, keepLast: Schema.optionalKey(PositiveInt), keepBest: Schema.optionalKey(Schema.Boolean) }))
})
export type Recipe = typeof RecipeSchema.Type
export type EstimatorSpec = typeof Estimator.Type
export type LossSpec = PluginSchemas.LossSpec
export type TaskSpec = typeof Task.Type

/**
 * The default recipe: 2-GRPO on 1-2 digit addition and subtraction (answers written least
 * significant digit first, which a small char model learns), a ~0.23M-parameter GPT, an SFT warm
 * start on 2,000 demonstrations at a constant learning rate that stops once greedy accuracy on 200
 * held-out problems reaches 50%, with 5,000 steps as the cap (a fixed step count lands anywhere from 10% to 60% with the seed and
 * the matmul path; an annealed warm start is also knocked over by the first RL steps), then 600 RL steps of 256
 * prompts x 2 rollouts (512 rollouts per step, as the paper) over 4,000 training problems. Paper settings where they apply:
 * constant lr with a linear warm-up, temperature 1 / top-p 1 for training rollouts, 0.7 / 0.8 / 20
 * for evaluation. Sized to finish in a few minutes on 2 CPU cores.
 */
export const defaults: Recipe = {
  name: "2-grpo",
  seed: 1,
  task: { kind: "arithmetic", ops: ["+", "-"], digits: { min: 1, max: 2 }, oodDigits: { min: 3, max: 3 }, reversed: true },
  model: { nLayer: 2, nHead: 4, nEmbd: 96, blockSize: 32 },
  sft: {
    steps: 5000,
    batchSize: 64,
    lr: 3e-3,
    examples: 2000,
    noise: 0,
    warmupSteps: 50,
    schedule: "constant",
    weightDecay: 0,
    target: { greedyAccuracy: 0.5, every: 50, probe: 200 }
  },
  rl: {
    steps: 600,
    promptsPerStep: 256,
    groupSize: { kind: "fixed", size: 2 },
    estimator: { kind: "2-grpo" },
    loss: { kind: "ppo-clip" },
    aggregation: "token-mean",
    lr: 1e-3,
    warmupSteps: 10,
    weightDecay: 0,
    maxGradNorm: 1,
    skipZeroAdvantage: true,
    sampling: { temperature: 1, topP: 1, topK: 0, maxTokens: 8 },
    trainProblems: 4000
  },
  eval: { n: 8, problems: 200, every: 0, sampling: { temperature: 0.7, topP: 0.8, topK: 20, maxTokens: 8 } },
  guards: { passDrop: 0.05, minEntropy: 0.02, zeroAdvantage: 0.98, patience: 20, action: "warn" },
  checkpointEvery: 50
}

/** A recipe problem: where (file, field path) and what. */
export class RecipeError extends Schema.TaggedError<RecipeError>()("RecipeError", {
  message: Schema.String
}) {}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x)

/** Deep merge: objects merge key by key, everything else (arrays included) replaces. */
export const merge = (base: unknown, over: unknown): unknown => {
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) {
    // A different plugin kind replaces the whole union member instead of merging stale fields.
    if (isObject(v) && isObject(base[k]) && "kind" in v && v.kind !== (base[k] as Record<string, unknown>).kind) out[k] = v
    // A Hugging Face model replaces the GPT's fields instead of merging with them.
    else if (isObject(v) && isObject(base[k]) && k === "model" && "hf" in v && !("hf" in (base[k] as Record<string, unknown>))) out[k] = v
    else out[k] = merge(base[k], v)
  }
  return out
}

/** Parses `a.b.c=value` into a nested object; the value is JSON when it parses, else a string. */
export const parseOverride = (assignment: string): Effect.Effect<Record<string, unknown>, RecipeError> => {
  const eq = assignment.indexOf("=")
  if (eq <= 0) return Effect.fail(new RecipeError({ message: `--set ${assignment}: expected key.path=value` }))
  const path = assignment.slice(0, eq).split(".")
  if (path.some((p) => p === "")) return Effect.fail(new RecipeError({ message: `--set ${assignment}: empty key in "${assignment.slice(0, eq)}"` }))
  const raw = assignment.slice(eq + 1)
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    value = raw
  }
  let obj: unknown = value
  for (let i = path.length - 1; i >= 0; i--) obj = { [path[i]!]: obj }
  return Effect.succeed(obj as Record<string, unknown>)
}

/** Parses JSON or YAML text (by extension; YAML is a superset of JSON); syntax errors name file, line and column. */
export const parseText = (text: string, file: string): Effect.Effect<unknown, RecipeError> =>
  Effect.try({
    try: () => {
      const doc = Yaml.parseDocument(text, { prettyErrors: true })
      if (doc.errors.length > 0) {
        const e = doc.errors[0]!
        const pos = e.linePos?.[0]
        throw new Error(`${file}${pos ? `:${pos.line}:${pos.col}` : ""}: ${e.message.split("\n")[0]}`)
      }
      return doc.toJS() as unknown
    },
    catch: (e) => new RecipeError({ message: e instanceof Error ? e.message : String(e) })
  })


/**
 * Decodes a partial recipe object on top of the defaults. Unknown fields are errors (a typo must
 * not be silently ignored); each error names the field path and the source.
 */
export const decode = (partial: unknown, source = "recipe"): Effect.Effect<Recipe, RecipeError> => {
  if (partial !== undefined && partial !== null && !isObject(partial)) {
    return Effect.fail(new RecipeError({ message: `${source}: a recipe must be an object of fields` }))
  }
  const merged = merge(defaults, partial ?? {})
  // A Hugging Face model is checked on its own first, so its errors are not mixed with the GPT's fields.
  const model = (merged as Record<string, unknown>)["model"]
  if (isObject(model) && "hf" in model) {
    const bad = Schema.decodeUnknownExit(HfModel)(model, { onExcessProperty: "error", errors: "all" })
    if (bad._tag === "Failure") {
      const text = formatSchemaIssues(Cause.squash(bad.cause))
      return Effect.fail(new RecipeError({ message: `${source}: ${text.split("; ").map((m) => `model.${m}`).join("; ")}` }))
    }
  }
  return Schema.decodeUnknownEffect(RecipeSchema)(merged, { onExcessProperty: "error", errors: "all" }).pipe(
    Effect.mapError((e) => new RecipeError({ message: `${source}: ${formatSchemaIssues(e)}` })),
    Effect.flatMap((r) => check(r, source))
  )
}

/** Cross-field checks the schema cannot express. */
const check = (r: Recipe, source: string): Effect.Effect<Recipe, RecipeError> => {
  const fail = (path: string, message: string) => Effect.fail(new RecipeError({ message: `${source}: ${path}: ${message}` }))
  if (!("hf" in r.model) && r.model.nEmbd % r.model.nHead !== 0) return fail("model.nHead", `must divide model.nEmbd (${r.model.nEmbd}), got ${r.model.nHead}`)
  const g = r.rl.groupSize
  const sizes = r.rl.estimator.kind === "custom" ? undefined : Registry.entry(r.rl.estimator.kind).groupSize
  if (sizes !== undefined && "exact" in sizes && !(g.kind === "fixed" && g.size === sizes.exact)) {
    return fail("rl.groupSize", `${r.rl.estimator.kind} needs a fixed group size of ${sizes.exact}`)
  }
  if (r.rl.loss.kind === "dpo" && !(g.kind === "fixed" && g.size === 2)) {
    return fail("rl.groupSize", "the dpo loss pairs two rollouts per prompt: use a fixed group size of 2")
  }
  if (g.kind === "fixed" && g.size < 2) return fail("rl.groupSize.size", "group estimators need at least 2 rollouts per prompt")
  if (g.kind === "adaptive" && (g.initial < 2 || g.max < g.initial)) return fail("rl.groupSize", "adaptive needs 2 <= initial <= max")
  if (sizes !== undefined && "min" in sizes && (g.kind === "fixed" ? g.size : g.initial) < sizes.min) {
    return fail("rl.groupSize", `${r.rl.estimator.kind} needs groups of at least ${sizes.min}`)
  }
  if (r.task.kind === "arithmetic" && r.task.digits && r.task.digits.min > r.task.digits.max) return fail("task.digits", "min must be <= max")
  if (r.checkpoint !== undefined && (r.checkpointKeepLast !== undefined || r.checkpointEvery !== defaults.checkpointEvery)) {
    return fail("checkpoint", "replaces checkpointEvery / checkpointKeepLast: give checkpoint: { every, keepLast } alone")
  }
  const found = RecipeChecks.problems(r)
  if (found.length > 0) return Effect.fail(new RecipeError({ message: `${source}: ${found.map((p) => `${p.path}: ${p.message}`).join("; ")}` }))
  return Effect.succeed(r)
}

/** Loads a recipe file (JSON or YAML) plus `--set` overrides. */
export const load = (
  file: string | undefined,
  text: string | undefined,
  overrides: ReadonlyArray<string> = []
): Effect.Effect<Recipe, RecipeError> =>
  Effect.gen(function* () {
    let doc: unknown = {}
    if (file !== undefined && text !== undefined) doc = yield* parseText(text, file)
    // A list or a scalar is not a recipe, even when --set would fill in fields (an empty file is {}).
    if (doc !== undefined && doc !== null && !isObject(doc)) {
      return yield* new RecipeError({ message: `${file}: a recipe file must be a mapping of fields (name: ..., rl: ...), found ${Array.isArray(doc) ? "a list" : `a ${typeof doc}`}` })
    }
    if (doc === null || doc === undefined) doc = {}
    for (const o of overrides) doc = merge(doc, yield* parseOverride(o))
    return yield* decode(doc, file ?? "recipe")
  })
