/**
 * Reading run directories written by `duet train` (the pipeline's `Train.train`): `recipe.json`,
 * `metrics.jsonl` (one JSON object per line, `kind` "sft" | "rl" | "eval") and, for a finished run,
 * `summary.json`. A report directory is either one run directory or a directory whose
 * subdirectories are run directories (a comparison: methods x seeds). Only files are read, so this
 * package depends neither on the pipeline nor on tfjs; the fields used are decoded here, and bad
 * input fails with a `ReportError` naming the file (and line, for metrics.jsonl).
 */
import { formatSchemaIssues } from "@duet/core"
import { Effect, Result, Schema } from "effect"
import { existsSync } from "node:fs"
import { readFile, readdir, stat } from "node:fs/promises"
import { basename, join } from "node:path"

export class ReportError extends Schema.TaggedError<ReportError>()("ReportError", { message: Schema.String }) {}

/** One RL optimizer step (a `kind: "rl"` record). */
export interface RlPoint {
  readonly step: number
  /** `critic/score/mean` (older runs: `critic/rewards/mean`): mean reward of the step's rollouts. */
  readonly reward: number
  /** `frac_zero_std_groups`: share of prompts whose rollouts all got the same reward (advantage 0). */
  readonly fracZeroStd: number
  /** `rollouts/total`: rollouts generated up to and including this step. */
  readonly rollouts: number
  /** `tokens/total`: completion tokens generated up to and including this step. */
  readonly tokens: number
  /** `time/total_s`: the trainer's wall clock (SFT + RL + evaluations so far) at the end of this step. */
  readonly seconds: number
}

/** One held-out evaluation (a `kind: "eval"` record), placed on the run's step/rollout/time axes. */
export interface EvalPoint {
  readonly phase: "before" | "during" | "after"
  /** RL steps completed when the policy was evaluated. */
  readonly step: number
  readonly split: string
  readonly n: number
  readonly meanAtN: number
  readonly passAtN: number
  /** Rollouts generated before this evaluation (`rollouts/total` of RL step `step - 1`). */
  readonly rollouts: number
  /** Trainer wall clock when the evaluated policy was ready (`time/total_s` of RL step `step - 1`). */
  readonly seconds: number
}

export interface EvalResult {
  readonly split: string
  readonly n: number
  readonly meanAtN: number
  readonly passAtN: number
}

/** The fields of `summary.json` (the pipeline's TrainSummary) the report uses. */
export interface Summary {
  readonly steps: number
  readonly rollouts: number
  readonly tokens: number
  readonly seconds: { readonly total: number }
  readonly after: ReadonlyArray<EvalResult>
}

/** One value of a scalar metric at a step. */
export interface ScalarPoint {
  readonly step: number
  readonly value: number
}

export interface Run {
  readonly dir: string
  /** The recipe's `name`: runs with the same name are one method, repeated over seeds. */
  readonly method: string
  readonly seed: number
  /** Rollouts per prompt: `rl.groupSize.size` (fixed) or `.max` (adaptive); undefined if the recipe has neither. */
  readonly groupSize: number | undefined
  /** recipe.json as written (shown verbatim in the report). */
  readonly recipe: Record<string, unknown>
  readonly rl: ReadonlyArray<RlPoint>
  readonly evals: ReadonlyArray<EvalPoint>
  /** Absent for a run that has not finished (or crashed). */
  readonly summary: Summary | undefined
  /** 1-based line numbers of metrics.jsonl that were not JSON (a write torn by a crash) and were skipped. */
  readonly skippedLines: ReadonlyArray<number>
  /**
   * Every numeric field of every record, by name (`scalarName`), sorted by step: RL fields as
   * written (`actor/ppo_kl`, ...), evaluations as `val-core/<split>/<field>`, SFT progress as
   * `sft/<field>` (on SFT steps). Names are not interpreted: whatever the trainer logs is here.
   */
  readonly scalars: ReadonlyMap<string, ReadonlyArray<ScalarPoint>>
}

const notPlotted = new Set(["kind", "step", "phase", "split"])

/**
 * The scalar name of a record's field (as duet's TensorBoard files name it): RL fields as they
 * are, eval fields under `val-core/<split>/` (a field already holding a "/" as it is), other kinds
 * under `<kind>/`. Undefined for fields that are not plotted (kind, step, phase, split).
 */
export const scalarName = (record: Readonly<Record<string, unknown>>, field: string): string | undefined => {
  if (notPlotted.has(field)) return undefined
  const kind = typeof record.kind === "string" ? record.kind : "metrics"
  if (kind === "rl") return field
  if (kind === "eval") return field.includes("/") ? field : `val-core/${typeof record.split === "string" ? record.split : "all"}/${field}`
  return `${kind}/${field}`
}

// ---- decoding --------------------------------------------------------------------------------


const decodeWith = <S extends Schema.ConstraintDecoder<unknown>>(schema: S, value: unknown, where: string) => {
  const r = Schema.decodeUnknownResult(schema)(value, { errors: "all" })
  return Result.isSuccess(r)
    ? Effect.succeed(r.success as S["Type"])
    : Effect.fail(new ReportError({ message: `${where}: ${formatSchemaIssues(r.failure)}` }))
}

const NonNegative = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))
const Fraction = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))
const Step = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

const RecipeFields = Schema.Struct({
  name: Schema.String,
  seed: Schema.Int,
  rl: Schema.optionalKey(
    Schema.Struct({
      groupSize: Schema.optionalKey(
        Schema.Union([
          Schema.Struct({ kind: Schema.Literal("fixed"), size: Schema.Int }),
          Schema.Struct({ kind: Schema.Literal("adaptive"), initial: Schema.Int, max: Schema.Int })
        ])
      )
    })
  )
})

const RlRecord = Schema.Struct({
  step: Step,
  /** verl's name; `critic/rewards/mean` (older duet runs) is read when it is absent. */
  "critic/score/mean": Schema.Finite,
  frac_zero_std_groups: Fraction,
  "rollouts/total": NonNegative,
  "tokens/total": NonNegative,
  "time/total_s": NonNegative
})

const EvalRecord = Schema.Struct({
  phase: Schema.Literals(["before", "during", "after"]),
  step: Step,
  split: Schema.String,
  n: Step,
  meanAtN: Fraction,
  passAtN: Fraction
})

const SftRecord = Schema.Struct({ time: NonNegative })

const EvalResultFields = Schema.Struct({ split: Schema.String, n: Step, meanAtN: Fraction, passAtN: Fraction })

const SummaryFields = Schema.Struct({
  steps: Step,
  rollouts: NonNegative,
  tokens: NonNegative,
  seconds: Schema.Struct({ total: NonNegative }),
  after: Schema.Array(EvalResultFields)
})

const readText = (path: string) =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (e) => new ReportError({ message: `${path}: cannot read (${e instanceof Error ? e.message : String(e)})` })
  })

const parseJsonFile = (path: string) =>
  Effect.flatMap(readText(path), (text) =>
    Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (e) => new ReportError({ message: `${path}: not valid JSON (${e instanceof Error ? e.message : String(e)})` })
    })
  )

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x)

interface ParsedMetrics {
  readonly scalars: Map<string, ScalarPoint[]>
  readonly rl: RlPoint[]
  readonly evals: Array<Omit<EvalPoint, "rollouts" | "seconds">>
  /** `time` of the last SFT progress record: the warm start's wall time. */
  readonly sftSeconds: number
  readonly skippedLines: number[]
}

/**
 * Parses metrics.jsonl text. A line that is not JSON is skipped (a crash can tear the last write);
 * a line that is JSON but not an object, or an rl/eval record missing a field, is an error naming
 * `file:line`. Records of other kinds are ignored. When a resumed run repeated a step or an
 * evaluation, the later record wins.
 */
export const parseMetrics = (text: string, file: string): Effect.Effect<ParsedMetrics, ReportError> =>
  Effect.gen(function* () {
    const rlByStep = new Map<number, RlPoint>()
    const evalByKey = new Map<string, Omit<EvalPoint, "rollouts" | "seconds">>()
    const skippedLines: number[] = []
    let sftSeconds = 0
    const scalarsByStep = new Map<string, Map<number, number>>()
    const lines = text.split("\n")
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!
      if (line.trim() === "") continue
      const where = `${file}:${i + 1}`
      let value: unknown
      try {
        value = JSON.parse(line)
      } catch {
        skippedLines.push(i + 1)
        continue
      }
      if (!isObject(value)) {
        return yield* new ReportError({ message: `${where}: expected a JSON object, found ${Array.isArray(value) ? "an array" : JSON.stringify(value)}` })
      }
      if (typeof value.step === "number" && Number.isFinite(value.step)) {
        for (const [field, v] of Object.entries(value)) {
          const name = scalarName(value, field)
          if (name === undefined || typeof v !== "number" || !Number.isFinite(v)) continue
          const byStep = scalarsByStep.get(name) ?? new Map<number, number>()
          byStep.set(value.step, v) // a resumed run's repeat of a step replaces it
          scalarsByStep.set(name, byStep)
        }
      }
      if (value.kind === "rl") {
        const withScore = value["critic/score/mean"] === undefined && value["critic/rewards/mean"] !== undefined ? { ...value, "critic/score/mean": value["critic/rewards/mean"] } : value
        const r = yield* decodeWith(RlRecord, withScore, `${where} (rl record)`)
        rlByStep.set(r.step, {
          step: r.step,
          reward: r["critic/score/mean"],
          fracZeroStd: r.frac_zero_std_groups,
          rollouts: r["rollouts/total"],
          tokens: r["tokens/total"],
          seconds: r["time/total_s"]
        })
      } else if (value.kind === "eval") {
        const r = yield* decodeWith(EvalRecord, value, `${where} (eval record)`)
        evalByKey.set(`${r.phase}/${r.step}/${r.split}`, r)
      } else if (value.kind === "sft") {
        sftSeconds = (yield* decodeWith(SftRecord, value, `${where} (sft record)`)).time
      } else if (typeof value.kind !== "string") {
        return yield* new ReportError({ message: `${where}: expected a "kind" field ("sft" | "rl" | "eval")` })
      }
    }
    const scalars = new Map<string, ScalarPoint[]>()
    for (const name of [...scalarsByStep.keys()].sort()) {
      scalars.set(name, [...scalarsByStep.get(name)!].map(([step, value]) => ({ step, value })).sort((a, b) => a.step - b.step))
    }
    return {
      scalars,
      rl: [...rlByStep.values()].sort((a, b) => a.step - b.step),
      evals: [...evalByKey.values()],
      sftSeconds,
      skippedLines
    }
  })

/**
 * Places evaluations on the rollout and time axes: the evaluation after `s` RL steps saw the
 * policy that RL step `s - 1` produced, so it takes that step's cumulative rollouts and clock
 * (the last RL record before `s` if that one is missing). Before any RL step: 0 rollouts, and the
 * clock at the end of the warm start.
 */
const placeEvals = (parsed: ParsedMetrics): EvalPoint[] =>
  parsed.evals
    .map((e) => {
      let last: RlPoint | undefined
      for (const p of parsed.rl) if (p.step < e.step) last = p
      return { ...e, rollouts: last?.rollouts ?? 0, seconds: last?.seconds ?? parsed.sftSeconds }
    })
    .sort((a, b) => a.step - b.step || a.split.localeCompare(b.split))

/** Loads one run directory. */
export const loadRun = (dir: string): Effect.Effect<Run, ReportError> =>
  Effect.gen(function* () {
    const recipePath = join(dir, "recipe.json")
    if (!existsSync(recipePath)) {
      return yield* new ReportError({ message: `${recipePath}: missing (is ${dir} a run directory written by duet train?)` })
    }
    const recipe = yield* parseJsonFile(recipePath)
    if (!isObject(recipe)) return yield* new ReportError({ message: `${recipePath}: expected a JSON object` })
    const fields = yield* decodeWith(RecipeFields, recipe, recipePath)
    const g = fields.rl?.groupSize
    const metricsPath = join(dir, "metrics.jsonl")
    const parsed = existsSync(metricsPath)
      ? yield* Effect.flatMap(readText(metricsPath), (text) => parseMetrics(text, metricsPath))
      : { scalars: new Map<string, ScalarPoint[]>(), rl: [], evals: [], sftSeconds: 0, skippedLines: [] }
    const summaryPath = join(dir, "summary.json")
    const summary = existsSync(summaryPath) ? yield* Effect.flatMap(parseJsonFile(summaryPath), (v) => decodeWith(SummaryFields, v, summaryPath)) : undefined
    return {
      dir,
      method: fields.name,
      seed: fields.seed,
      groupSize: g === undefined ? undefined : g.kind === "fixed" ? g.size : g.max,
      recipe,
      rl: parsed.rl,
      evals: placeEvals(parsed),
      summary,
      skippedLines: parsed.skippedLines,
      scalars: parsed.scalars
    }
  })

/**
 * Loads `dir`: itself if it holds a recipe.json, else every subdirectory that does (sorted by
 * name). Fails if there is none, or if two runs share a method and a seed.
 */
export const load = (dir: string): Effect.Effect<ReadonlyArray<Run>, ReportError> =>
  Effect.gen(function* () {
    const info = yield* Effect.tryPromise({
      try: () => stat(dir),
      catch: () => new ReportError({ message: `${dir}: no such directory` })
    })
    if (!info.isDirectory()) return yield* new ReportError({ message: `${dir}: not a directory` })
    if (existsSync(join(dir, "recipe.json"))) return [yield* loadRun(dir)]
    const entries = yield* Effect.tryPromise({
      try: () => readdir(dir, { withFileTypes: true }),
      catch: (e) => new ReportError({ message: `${dir}: cannot list (${e instanceof Error ? e.message : String(e)})` })
    })
    const subdirs = entries
      .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, "recipe.json")))
      .map((e) => e.name)
      .sort()
    if (subdirs.length === 0) {
      return yield* new ReportError({
        message: `${dir}: no recipe.json here or in any subdirectory; expected a run directory (duet train --out DIR) or a directory of them`
      })
    }
    const runs: Run[] = []
    const seen = new Map<string, string>()
    for (const name of subdirs) {
      const run = yield* loadRun(join(dir, name))
      const key = `${run.method}\u0000${run.seed}`
      const other = seen.get(key)
      if (other !== undefined) {
        return yield* new ReportError({
          message: `${join(dir, name)}: method "${run.method}" seed ${run.seed} also in ${other}; each (method, seed) must appear once`
        })
      }
      seen.set(key, basename(run.dir))
      runs.push(run)
    }
    return runs
  })

/** The run's totals: from summary.json when finished, else from its last RL record. */
export const totals = (run: Run): { steps: number; rollouts: number; tokens: number; seconds: number } => {
  if (run.summary) {
    const { steps, rollouts, tokens, seconds } = run.summary
    return { steps, rollouts, tokens, seconds: seconds.total }
  }
  const last = run.rl[run.rl.length - 1]
  return last ? { steps: last.step + 1, rollouts: last.rollouts, tokens: last.tokens, seconds: last.seconds } : { steps: 0, rollouts: 0, tokens: 0, seconds: 0 }
}

/** Final held-out results: summary.json's `after`, else the run's last "after" evaluations. */
export const finalEvals = (run: Run): ReadonlyArray<EvalResult> =>
  run.summary ? run.summary.after : run.evals.filter((e) => e.phase === "after")
