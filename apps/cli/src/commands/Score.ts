/**
 * `duet score --model DIR`: completion log-probs under a Hugging Face model. JSONL rows
 * `{"prompt", "completion"}` on stdin -> one line per row on stdout, in order:
 * `{"tokens": [...], "logprobs": [...]}`, the completion's token ids and log p(token | prompt, earlier
 * tokens). Prompt and completion are tokenized separately and concatenated, as TRL and verl do: no
 * chat template, and special tokens only where the tokenizer's post-processor adds them to the
 * prompt (e.g. Llama 3's <|begin_of_text|>); none are added to the completion.
 *
 * Also the shared plumbing of `duet sample`: loading the model, reading rows, writing lines.
 */
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { createInterface } from "node:readline"
import type { HfTokenizer, Policy, LlamaConfig } from "@duet/model"
import { InputError } from "../InputError.js"
import { backends } from "./Train.js"

export const modelFlag = Flag.Directory("model").pipe(Flag.withDescription("Hugging Face model directory (config.json, model.safetensors or shards, tokenizer.json); Llama, Qwen2, Qwen3"))
export const batchFlag = Flag.Int("batch-size").pipe(Flag.withDescription("rows per forward pass"), Flag.withDefault(8))
export const backendFlag = Flag.Literals("backend", backends).pipe(Flag.withDescription("tfjs backend (as duet train)"), Flag.withDefault("auto" as const))

/** The engine, the model and its tokenizer; every problem an InputError naming the file and field. */
export const loadModel = (dir: string, backend: (typeof backends)[number]) =>
  Effect.gen(function* () {
    const { Engine } = yield* Effect.promise(() => import("@duet/engine"))
    const { Hf } = yield* Effect.promise(() => import("@duet/model"))
    yield* Effect.tryPromise({ try: () => Engine.init({ backend, threads: 1 }), catch: (e) => new InputError({ message: (e as Error).message }) })
    const loaded = yield* Effect.tryPromise({ try: () => Hf.load(dir), catch: (e) => new InputError({ message: (e as Error).message }) })
    if (loaded.tokenizer === undefined) {
      loaded.policy.dispose()
      return yield* new InputError({ message: `${dir}/tokenizer.json: missing (duet score and sample need the model's tokenizer)` })
    }
    return { policy: loaded.policy as Policy<LlamaConfig>, tokenizer: loaded.tokenizer as HfTokenizer }
  })

export interface Row {
  /** 1-based line number on stdin. */
  readonly line: number
  readonly value: Record<string, unknown>
}

/**
 * Streams stdin's JSONL rows to `handle` in chunks of `size` (blank lines skipped), so output starts
 * before input ends and memory stays bounded; a line that is not a JSON object fails naming it.
 */
export const forEachChunk = <E>(size: number, handle: (rows: ReadonlyArray<Row>) => Effect.Effect<void, E>) =>
  Effect.gen(function* () {
    if (!Number.isInteger(size) || size < 1) return yield* new InputError({ message: `--batch-size must be a positive integer, got ${size}` })
    if (process.stdin.isTTY) return yield* new InputError({ message: "expects JSONL rows on stdin (pipe them in)" })
    process.stdout.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(0)
      throw e
    })
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
    const iterator = lines[Symbol.asyncIterator]()
    let chunk: Row[] = []
    let n = 0
    for (;;) {
      const next = yield* Effect.promise(() => iterator.next())
      if (next.done) break
      n++
      const text = n === 1 ? next.value.replace(/^\uFEFF/, "") : next.value
      if (text.trim() === "") continue
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch (e) {
        return yield* new InputError({ message: `stdin:${n}: not valid JSON (${(e as Error).message})` })
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) return yield* new InputError({ message: `stdin:${n}: expected a JSON object` })
      chunk.push({ line: n, value: value as Record<string, unknown> })
      if (chunk.length === size) {
        yield* handle(chunk)
        chunk = []
      }
    }
    if (chunk.length > 0) yield* handle(chunk)
  })

/** A row's string field, or an InputError naming the line and field. */
export const stringField = (row: Row, field: string): Effect.Effect<string, InputError> => {
  const v = row.value[field]
  return typeof v === "string" ? Effect.succeed(v) : Effect.fail(new InputError({ message: `stdin:${row.line}: "${field}" must be a string, got ${v === undefined ? "nothing" : JSON.stringify(v)}` }))
}

/** Writes lines to stdout, waiting for it to drain. */
export const writeLines = (lines: ReadonlyArray<string>) =>
  lines.length === 0 || process.stdout.write(lines.join("\n") + "\n") ? Effect.void : Effect.promise<void>(() => new Promise((resolve) => process.stdout.once("drain", () => resolve())))

/** One number as JSON keeps (float32 values printed at float64 precision, exactly). */
const numbers = (xs: ArrayLike<number>): number[] => Array.from(xs)

/**
 * Log-probs of each completion given its prompt (ids), for a chunk of rows; rows with an empty
 * completion get empty arrays. Exported for tests.
 */
export const scoreIds = (policy: Policy<LlamaConfig>, prompts: ReadonlyArray<Int32Array>, completions: ReadonlyArray<Int32Array>): Float32Array[] => {
  const out: Float32Array[] = completions.map(() => new Float32Array(0))
  const rows = completions.flatMap((c, i) => (c.length > 0 ? [i] : []))
  if (rows.length === 0) return out
  const { logprobs } = policy.sequenceLogprobs(
    rows.map((i) => prompts[i]!),
    rows.map((i) => completions[i]!)
  )
  const data = logprobs.dataSync() as Float32Array
  const Tc = logprobs.shape[1]
  logprobs.dispose()
  rows.forEach((i, k) => (out[i] = data.slice(k * Tc, k * Tc + completions[i]!.length)))
  return out
}

export const command = Command.make(
  "score",
  { model: modelFlag, batchSize: batchFlag, backend: backendFlag },
  (flags) =>
    Effect.gen(function* () {
      const { policy, tokenizer } = yield* loadModel(flags.model, flags.backend)
      const blockSize = policy.config.blockSize
      yield* forEachChunk(flags.batchSize, (rows) =>
        Effect.gen(function* () {
          const prompts: Int32Array[] = []
          const completions: Int32Array[] = []
          for (const row of rows) {
            const prompt = tokenizer.encode(yield* stringField(row, "prompt"), { addSpecialTokens: true })
            const completion = tokenizer.encode(yield* stringField(row, "completion"))
            if (prompt.length === 0) return yield* new InputError({ message: `stdin:${row.line}: "prompt" has no tokens (this tokenizer adds no BOS); the first completion token needs a context` })
            if (prompt.length + completion.length > blockSize) {
              return yield* new InputError({ message: `stdin:${row.line}: prompt + completion = ${prompt.length + completion.length} tokens exceeds the model's max_position_embeddings ${blockSize}` })
            }
            prompts.push(prompt)
            completions.push(completion)
          }
          const scored = scoreIds(policy, prompts, completions)
          yield* writeLines(scored.map((lp, i) => JSON.stringify({ tokens: numbers(completions[i]!), logprobs: numbers(lp) })))
        })
      )
    })
).pipe(
  Command.withDescription(
    'Score completions under a Hugging Face model: JSONL {"prompt", "completion"} on stdin -> {"tokens", "logprobs"} per row on stdout (the completion\'s ids and log-probs given the raw prompt; prompt and completion tokenized separately, as TRL and verl).'
  ),
  Command.withExamples([{ command: `echo '{"prompt":"What is 2+3?","completion":" 5"}' | duet score --model path/to/Qwen2.5-0.5B`, description: '-> {"tokens":[220,20],"logprobs":[-2.1,-0.3]}' }])
)
