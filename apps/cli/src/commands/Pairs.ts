/**
 * Preference pairs from verified samples, and DPO on them:
 *
 * - `duet pairs --endpoint URL --data FILE [--n 2] > pairs.jsonl`: `--n` samples per problem from
 *   any OpenAI-compatible server, graded with duet's verifier; the discordant ones (a right and a
 *   wrong answer to the same prompt) written as TRL's DPO JSONL, `{"prompt", "chosen", "rejected"}`.
 * - `duet dpo --pairs FILE --init CKPT --out DIR`: offline DPO of a duet checkpoint on such a file
 *   (`@duet/pipeline` `OfflineDpo`, the `@duet/losses` DPO losses).
 */
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { createWriteStream } from "node:fs"
import { InputError } from "../InputError.js"
import * as Progress from "../Progress.js"
import { connect, formats, loadProblems, verifierNames } from "./EvalEndpoint.js"
import { backends } from "./Train.js"

const pct = (x: number) => `${(100 * x).toFixed(1)}%`

export const pairs = Command.make(
  "pairs",
  {
    endpoint: Flag.String("endpoint").pipe(Flag.withDescription("OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (comma-separate several to spread the load)")),
    model: Flag.String("model").pipe(Flag.withDescription("model name to request (default: the server's only model)"), Flag.optional),
    data: Flag.String("data").pipe(Flag.withDescription("the problems, JSONL or Parquet (GSM8K, MATH or verl rows)")),
    format: Flag.Literals("format", formats).pipe(Flag.withDescription("row shape of --data; auto reads the first JSONL row's keys (Parquet: verl)"), Flag.withDefault("auto" as const)),
    n: Flag.Int("n").pipe(Flag.withDescription("samples per problem; a problem gives min(right, wrong) disjoint pairs (n = 2: one pair when exactly one is right)"), Flag.withDefault(2)),
    problems: Flag.Int("problems").pipe(Flag.withDescription("only the first N problems of --data"), Flag.optional),
    out: Flag.String("out").pipe(Flag.withDescription("write the pairs to this file instead of stdout"), Flag.optional),
    temperature: Flag.Finite("temperature").pipe(Flag.withDescription("sampling temperature"), Flag.withDefault(1)),
    topP: Flag.Finite("top-p").pipe(Flag.withDescription("nucleus mass"), Flag.withDefault(1)),
    maxTokens: Flag.Int("max-tokens").pipe(Flag.withDescription("most tokens per answer (default: the server's)"), Flag.optional),
    stop: Flag.String("stop").pipe(Flag.withDescription("a stop string (repeatable)"), Flag.atLeast(0)),
    verifier: Flag.Literals("verifier", verifierNames).pipe(Flag.withDescription("how answers are graded"), Flag.withDefault("math" as const)),
    concurrency: Flag.Int("concurrency").pipe(Flag.withDescription("requests in flight"), Flag.withDefault(8)),
    seed: Flag.Int("seed").pipe(Flag.withDescription("seed of problem i is seed + i (servers that honour seeds repeat their samples)"), Flag.withDefault(0))
  },
  (f) =>
    Effect.gen(function* () {
      if (f.n < 2) return yield* new InputError({ message: `--n must be >= 2 (a pair needs two samples), got ${f.n}` })
      if (f.concurrency < 1) return yield* new InputError({ message: `--concurrency must be >= 1, got ${f.concurrency}` })
      const { OfflineDpo } = yield* Effect.promise(() => import("@duet/pipeline"))
      const { Verifier } = yield* Effect.promise(() => import("@duet/verifiers"))
      const problems = yield* loadProblems(f.data, f.format, f.problems)
      const { client, model, baseUrls } = yield* connect(f.endpoint, f.model, f.concurrency)
      const verifier = Verifier[f.verifier === "exact" ? "exactMatch" : f.verifier]()
      const sink = Option.isSome(f.out) ? createWriteStream(f.out.value) : process.stdout
      // one problem's pairs at a time, in --data order whatever order the answers come in
      const write = (text: string) =>
        Effect.callback<void>((resume) => {
          if (sink.write(text)) resume(Effect.void)
          else sink.once("drain", () => resume(Effect.void))
        })

      const reporter = Progress.terminal()
      reporter.log(`duet pairs: ${model} at ${baseUrls.join(", ")} on ${f.data} (${problems.length} problems, n = ${f.n})`)
      let asked = 0
      let written = 0
      let allRight = 0
      let allWrong = 0
      const ready = new Map<number, ReadonlyArray<{ prompt: string; chosen: string; rejected: string }>>()
      let next = 0
      yield* Effect.forEach(
        problems.map((p, i) => ({ p, i })),
        ({ p, i }) =>
          client
            .completions(
              {
                model,
                prompt: p.prompt,
                n: f.n,
                temperature: f.temperature,
                top_p: f.topP,
                seed: f.seed + i,
                ...(Option.isSome(f.maxTokens) ? { max_tokens: f.maxTokens.value } : {}),
                ...(f.stop.length > 0 ? { stop: f.stop } : {})
              },
              (r) => (r.choices.length === f.n ? undefined : { reason: `${r.choices.length} choices for n = ${f.n}`, retryable: true })
            )
            .pipe(
              Effect.mapError((e) => new InputError({ message: `problem ${p.id}: ${e.message}` })),
              Effect.flatMap((r) =>
                Effect.gen(function* () {
                  const samples = []
                  for (const c of [...r.choices].sort((a, b) => a.index - b.index)) {
                    samples.push({ text: c.text, correct: (yield* verifier.verify(c.text, p.answer)).correct })
                  }
                  const right = samples.filter((s) => s.correct).length
                  if (right === samples.length) allRight++
                  if (right === 0) allWrong++
                  ready.set(i, OfflineDpo.discordantPairs(p.prompt, samples))
                  asked++
                  while (ready.has(next)) {
                    const found = ready.get(next)!
                    ready.delete(next++)
                    for (const pair of found) yield* write(JSON.stringify(pair) + "\n")
                    written += found.length
                  }
                  reporter.progress(`pairs: ${asked}/${problems.length} problems, ${written} pairs`)
                })
              )
            ),
        { concurrency: f.concurrency, discard: true }
      ).pipe(Effect.ensuring(Effect.sync(() => reporter.done())))
      if (sink !== process.stdout) {
        yield* Effect.callback<void>((resume) => {
          sink.end(() => resume(Effect.void))
        })
      }
      yield* Effect.sync(() =>
        process.stderr.write(
          `${written} pairs from ${problems.length} problems (${pct(allRight / problems.length)} all right, ${pct(allWrong / problems.length)} all wrong, n = ${f.n})` +
            (Option.isSome(f.out) ? ` -> ${f.out.value}` : "") +
            "\n"
        )
      )
    })
).pipe(
  Command.withDescription(
    "Preference pairs for DPO from any OpenAI-compatible server: --n samples per problem, graded with duet's verifier; discordant ones written as TRL DPO JSONL {prompt, chosen, rejected}."
  ),
  Command.withExamples([
    { command: "duet pairs --endpoint http://127.0.0.1:8000/v1 --data train.jsonl --n 2 > pairs.jsonl", description: "then: duet dpo --pairs pairs.jsonl --init CKPT --out runs/dpo" }
  ])
)

export const dpo = Command.make(
  "dpo",
  {
    pairs: Flag.String("pairs").pipe(Flag.withDescription("TRL DPO JSONL: {\"prompt\", \"chosen\", \"rejected\"} strings per line (duet pairs writes it)")),
    init: Flag.Directory("init").pipe(Flag.withDescription("duet checkpoint to start from; also the frozen reference")),
    out: Flag.String("out").pipe(Flag.withDescription("output directory: checkpoint/ (evaluate it with duet eval) and metrics.jsonl")),
    loss: Flag.Literals("loss", ["sigmoid", "ipo", "hinge"] as const).pipe(
      Flag.withDescription("DPO loss (TRL loss_type): sigmoid = DPO (Rafailov 2023), ipo (Azar 2023), hinge (SLiC)"),
      Flag.withDefault("sigmoid" as const)
    ),
    beta: Flag.Finite("beta").pipe(Flag.withDescription("implicit-reward temperature (TRL's default)"), Flag.withDefault(0.1)),
    labelSmoothing: Flag.Finite("label-smoothing").pipe(Flag.withDescription("cDPO label smoothing in [0, 0.5] (sigmoid only)"), Flag.withDefault(0)),
    epochs: Flag.Int("epochs").pipe(Flag.withDescription("passes over the pairs"), Flag.withDefault(1)),
    batchSize: Flag.Int("batch-size").pipe(Flag.withDescription("pairs per step"), Flag.withDefault(16)),
    lr: Flag.Finite("lr").pipe(Flag.withDescription("AdamW learning rate (constant)"), Flag.withDefault(1e-4)),
    seed: Flag.Int("seed").pipe(Flag.withDescription("seed of the pair order"), Flag.withDefault(0)),
    backend: Flag.Literals("backend", backends).pipe(Flag.withDescription("tfjs backend (as duet train)"), Flag.withDefault("auto" as const))
  },
  (f) =>
    Effect.gen(function* () {
      const { Engine } = yield* Effect.promise(() => import("@duet/engine"))
      const { OfflineDpo } = yield* Effect.promise(() => import("@duet/pipeline"))
      yield* Effect.tryPromise({ try: () => Engine.init({ backend: f.backend, threads: 1 }), catch: (e) => new InputError({ message: (e as Error).message }) })
      const reporter = Progress.terminal()
      const s = yield* OfflineDpo.train({
        pairs: f.pairs,
        init: f.init,
        out: f.out,
        variant: f.loss,
        beta: f.beta,
        labelSmoothing: f.labelSmoothing,
        epochs: f.epochs,
        batchSize: f.batchSize,
        lr: f.lr,
        seed: f.seed,
        reporter
      }).pipe(
        Effect.mapError((e) => new InputError({ message: e.message })),
        Effect.ensuring(Effect.sync(() => reporter.done()))
      )
      const num = (x: number | undefined) => (x === undefined ? "?" : x.toFixed(4))
      yield* Console.log(
        `dpo (${f.loss}, beta ${f.beta}): ${s.pairs} pairs, ${s.steps} steps; loss ${num(s.first.loss)} -> ${num(s.last.loss)}, ` +
          `reward margin ${num(s.first.rewardMargin)} -> ${num(s.last.rewardMargin)}, accuracy ${pct(s.first.rewardAccuracy ?? 0)} -> ${pct(s.last.rewardAccuracy ?? 0)}`
      )
      yield* Console.log(`checkpoint: ${s.checkpoint}`)
    })
).pipe(
  Command.withDescription(
    "Offline DPO of a duet checkpoint on a preference-pairs file (TRL DPO JSONL, e.g. from duet pairs) with the sigmoid, IPO or hinge loss; the start checkpoint is the reference."
  ),
  Command.withExamples([
    { command: "duet dpo --pairs pairs.jsonl --init runs/x/checkpoints/step-000000 --out runs/dpo --epochs 2 --lr 1e-4", description: "then: duet eval runs/dpo/checkpoint" }
  ])
)
