/**
 * `duet eval --endpoint URL --data FILE`: evaluates any OpenAI-compatible server (duet serve, vLLM,
 * SGLang, llama.cpp, TGI) on a JSONL or Parquet math set in HF/verl shapes. Each problem is one
 * completions request with `n` samples, graded with duet's verifier; Mean@n and the unbiased Pass@k
 * (Chen et al. 2021) come from `@duet/verifiers` `Metrics`.
 *
 * Every finished problem is appended to the `--out` JSONL at once, so an interrupted run resumes
 * with the same command: problems already in the file are not asked again (a half-written last
 * line is dropped), and the summary covers the whole file.
 */
import { Console, Effect, Option } from "effect"
import { Flag } from "effect/cli"
import { existsSync, readFileSync, writeFileSync, appendFileSync } from "node:fs"
import { basename, extname } from "node:path"
import { InputError } from "../InputError.js"
import * as Progress from "../Progress.js"
import type { HttpSampler as HttpSamplerTypes } from "@duet/samplers"

type HttpSamplerClient = HttpSamplerTypes.Client

export const formats = ["auto", "gsm8k", "math", "verl"] as const
export const verifierNames = ["math", "gsm8k", "exact"] as const

/** The flags `duet eval` adds for endpoint mode. */
export const flags = {
  endpoint: Flag.String("endpoint").pipe(
    Flag.withDescription("evaluate an OpenAI-compatible server instead of a checkpoint: its base URL, e.g. http://127.0.0.1:8000/v1 (comma-separate several to spread the load)"),
    Flag.optional
  ),
  model: Flag.String("model").pipe(Flag.withDescription("with --endpoint: the model name to request (default: the server's only model)"), Flag.optional),
  data: Flag.String("data").pipe(Flag.withDescription("with --endpoint: the problems, JSONL or Parquet (GSM8K, MATH or verl rows)"), Flag.optional),
  format: Flag.Literals("format", formats).pipe(
    Flag.withDescription("with --endpoint: row shape of --data; auto reads the first JSONL row's keys (Parquet: verl)"),
    Flag.withDefault("auto" as const)
  ),
  out: Flag.String("out").pipe(Flag.withDescription("with --endpoint: per-problem results JSONL; rerunning with the same file resumes (default <data>.<model>.n<N>.jsonl)"), Flag.optional),
  temperature: Flag.Finite("temperature").pipe(Flag.withDescription("with --endpoint: sampling temperature"), Flag.withDefault(1)),
  topP: Flag.Finite("top-p").pipe(Flag.withDescription("with --endpoint: nucleus mass"), Flag.withDefault(1)),
  maxTokens: Flag.Int("max-tokens").pipe(Flag.withDescription("with --endpoint: most tokens per answer (default: the server's)"), Flag.optional),
  stop: Flag.String("stop").pipe(Flag.withDescription("with --endpoint: a stop string (repeatable)"), Flag.atLeast(0)),
  verifier: Flag.Literals("verifier", verifierNames).pipe(Flag.withDescription("with --endpoint: how answers are graded"), Flag.withDefault("math" as const)),
  concurrency: Flag.Int("concurrency").pipe(Flag.withDescription("with --endpoint: requests in flight"), Flag.withDefault(8)),
  seed: Flag.Int("seed").pipe(Flag.withDescription("with --endpoint: seed of problem i is seed + i (servers that honour seeds repeat their samples)"), Flag.withDefault(0))
}

interface Flags {
  readonly endpoint: Option.Option<string>
  readonly model: Option.Option<string>
  readonly data: Option.Option<string>
  readonly format: (typeof formats)[number]
  readonly out: Option.Option<string>
  readonly temperature: number
  readonly topP: number
  readonly maxTokens: Option.Option<number>
  readonly stop: ReadonlyArray<string>
  readonly verifier: (typeof verifierNames)[number]
  readonly concurrency: number
  readonly seed: number
  readonly n: Option.Option<number>
  readonly problems: Option.Option<number>
}

interface Row {
  readonly id: string
  readonly n: number
  readonly correct: number
  readonly answer: string
  readonly prompt: string
  readonly samples: ReadonlyArray<{ readonly text: string; readonly correct: boolean; readonly extracted: string | null; readonly finish_reason: string | null }>
}

export const detectFormat = (path: string): "gsm8k" | "math" | "verl" | undefined => {
  const first = readFileSync(path, "utf8").split("\n").find((l) => l.trim() !== "")
  if (first === undefined) return undefined
  let row: Record<string, unknown>
  try {
    row = JSON.parse(first.replace(/^\uFEFF/, "")) as Record<string, unknown>
  } catch {
    return undefined
  }
  if ("prompt" in row && "reward_model" in row) return "verl"
  if ("question" in row && "answer" in row) return "gsm8k"
  if ("problem" in row) return "math"
  return undefined
}

/** Rows already in `out` (resume); a torn last line is dropped from the file. */
const readDone = (out: string, n: number): Map<string, Row> => {
  const done = new Map<string, Row>()
  if (!existsSync(out)) return done
  const lines = readFileSync(out, "utf8").split("\n")
  const kept: string[] = []
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") continue
    let row: Row
    try {
      row = JSON.parse(line) as Row
    } catch {
      if (i >= lines.length - 2) break // the line an interrupted run was writing
      throw new InputError({ message: `${out}: line ${i + 1} is not JSON; move the file away to start over` })
    }
    if (row.n !== n) throw new InputError({ message: `${out} holds results with n = ${row.n}; use --n ${row.n} to resume it, or another --out` })
    done.set(row.id, row)
    kept.push(line)
  }
  writeFileSync(out, kept.map((l) => l + "\n").join(""))
  return done
}

const clock = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return "?"
  const s = Math.round(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  return `${h > 0 ? `${h}:${String(m).padStart(2, "0")}` : m}:${String(s % 60).padStart(2, "0")}`
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`

/** The problems of `--data` (JSONL or Parquet, row shape from `--format` or the first row), the first `--problems`. */
export const loadProblems = (data: string, formatFlag: (typeof formats)[number], limit: Option.Option<number>) =>
  Effect.gen(function* () {
    if (!existsSync(data)) return yield* new InputError({ message: `cannot read ${data}` })
    const { Jsonl, Parquet } = yield* Effect.promise(() => import("@duet/tasks"))
    const parquet = extname(data).toLowerCase() === ".parquet"
    const format = formatFlag !== "auto" ? formatFlag : parquet ? "verl" : detectFormat(data)
    if (format === undefined) return yield* new InputError({ message: `${data}: cannot tell the row shape from its first row; give --format gsm8k|math|verl` })
    const problems = yield* (parquet ? Parquet.load(data, { format }) : Jsonl.load(data, { format })).pipe(Effect.mapError((e) => new InputError({ message: e.message })))
    return Option.isSome(limit) ? problems.slice(0, limit.value) : problems
  })

/** A client over the comma-separated `--endpoint` URLs, and `--model` or the server's only model. */
export const connect = (
  endpoint: string,
  modelFlag: Option.Option<string>,
  concurrency: number
): Effect.Effect<{ client: HttpSamplerClient; model: string; baseUrls: string[] }, InputError> =>
  Effect.gen(function* () {
    const { HttpSampler } = yield* Effect.promise(() => import("@duet/samplers"))
    const baseUrls = endpoint.split(",").map((u) => u.trim()).filter((u) => u !== "")
    if (baseUrls.length === 0) return yield* new InputError({ message: "--endpoint: give a base URL, e.g. http://127.0.0.1:8000/v1" })
    const client = yield* HttpSampler.makeClient({ baseUrls, concurrency })
    const model = Option.isSome(modelFlag)
      ? modelFlag.value
      : yield* client.models.pipe(
          Effect.mapError((e) => new InputError({ message: `cannot list the server's models: ${e.message}` })),
          Effect.flatMap((ids) =>
            ids.length === 1 ? Effect.succeed(ids[0]!) : Effect.fail(new InputError({ message: `the server has ${ids.length} models (${ids.join(", ")}); pick one with --model` }))
          )
        )
    return { client, model, baseUrls }
  })

export const run = (f: Flags) =>
  Effect.gen(function* () {
    const endpoint = Option.getOrThrow(f.endpoint)
    if (Option.isNone(f.data)) return yield* new InputError({ message: "--endpoint needs --data FILE (JSONL or Parquet problems)" })
    const data = f.data.value
    const n = Option.getOrElse(f.n, () => 4)
    if (n < 1) return yield* new InputError({ message: `--n must be >= 1, got ${n}` })
    if (f.concurrency < 1) return yield* new InputError({ message: `--concurrency must be >= 1, got ${f.concurrency}` })
    const { Metrics, Verifier } = yield* Effect.promise(() => import("@duet/verifiers"))
    const problems = yield* loadProblems(data, f.format, f.problems)
    const { client, model, baseUrls } = yield* connect(endpoint, f.model, f.concurrency)
    const out = Option.getOrElse(f.out, () => `${basename(data, extname(data))}.${model.replace(/[^\w.-]+/g, "_")}.n${n}.jsonl`)
    const done = yield* Effect.try({ try: () => readDone(out, n), catch: (e) => (e instanceof InputError ? e : new InputError({ message: String(e) })) })
    const verifier = Verifier[f.verifier === "exact" ? "exactMatch" : f.verifier]()
    const todo = problems.map((p, i) => ({ p, i })).filter(({ p }) => !done.has(p.id))

    const reporter = Progress.terminal()
    reporter.log(`duet eval: ${model} at ${baseUrls.join(", ")} on ${data} (${problems.length} problems, n = ${n}, ${done.size} already in ${out})`)
    const started = Date.now()
    let finished = 0
    let correctSoFar = 0
    const report = () => {
      const rate = finished / ((Date.now() - started) / 1000)
      reporter.progress(
        `eval ${done.size}/${problems.length} problems  Mean@${n} ${pct(correctSoFar / Math.max(1, done.size * n))}  ${rate.toFixed(2)} problems/s  ETA ${clock((todo.length - finished) / rate)}`
      )
    }
    for (const r of done.values()) correctSoFar += r.correct
    yield* Effect.forEach(
      todo,
      ({ p, i }) =>
        client
          .completions({
            model,
            prompt: p.prompt,
            n,
            temperature: f.temperature,
            top_p: f.topP,
            seed: f.seed + i,
            ...(Option.isSome(f.maxTokens) ? { max_tokens: f.maxTokens.value } : {}),
            ...(f.stop.length > 0 ? { stop: f.stop } : {})
          }, (r) => (r.choices.length === n ? undefined : { reason: `${r.choices.length} choices for n = ${n}`, retryable: true }))
          .pipe(
            Effect.mapError((e) => new InputError({ message: `problem ${p.id}: ${e.message}` })),
            Effect.flatMap((r) =>
              Effect.gen(function* () {
                const choices = [...r.choices].sort((a, b) => a.index - b.index)
                const samples = []
                for (const c of choices) {
                  const v = yield* verifier.verify(c.text, p.answer)
                  samples.push({ text: c.text, correct: v.correct, extracted: v.extracted, finish_reason: c.finish_reason })
                }
                const row: Row = { id: p.id, n, correct: samples.filter((s) => s.correct).length, answer: p.answer, prompt: p.prompt, samples }
                appendFileSync(out, JSON.stringify(row) + "\n")
                done.set(p.id, row)
                finished++
                correctSoFar += row.correct
                report()
              })
            )
          ),
      { concurrency: f.concurrency, discard: true }
    ).pipe(Effect.ensuring(Effect.sync(() => reporter.done())))

    const rows = problems.map((p) => done.get(p.id)!).map((r) => r.samples.map((s) => s.correct))
    const ks = [1, 2, 4, 8, 16, 32, 64, 128].filter((k) => k < n).concat([n])
    const seconds = (Date.now() - started) / 1000
    yield* Console.log(
      `Mean@${n} ${pct(Metrics.meanAtK(rows))}  ${ks.map((k) => `Pass@${k} ${pct(Metrics.meanPassAtK(rows, k))}`).join("  ")}  ` +
        `(${problems.length} problems, ${finished} asked in ${seconds.toFixed(1)}s, ${problems.length - finished} resumed)`
    )
    yield* Console.log(`per-problem results: ${out}`)
  })
