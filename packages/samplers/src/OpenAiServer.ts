/**
 * `OpenAiServer`: an OpenAI-compatible HTTP server over a duet checkpoint or a Hugging Face
 * directory (Llama / Qwen2 / Qwen3, `@duet/model` `Hf`) (`duet serve`), so OpenAI clients,
 * `duet eval --endpoint` and the HTTP sampler can use a duet policy like any vLLM or SGLang server.
 *
 * Routes: `GET /health`, `GET /v1/models`, `POST /v1/completions`, `POST /v1/chat/completions`
 * (an HF model's chat template with `add_generation_prompt`; a clear 400 where there is none, as
 * for char-level duet checkpoints), and SGLang's `POST /update_weights_from_disk`
 * `{ "model_path": DIR }`, which swaps in another checkpoint of the same shape between two batches.
 * Errors are OpenAI-shaped: `{ error: { message, type, param, code } }`.
 *
 * Completions follow the OpenAI API plus vLLM's extensions: `prompt` as a string, a list of
 * strings, token ids or lists of token ids (a string gets BOS in front, as the pipeline's prompts
 * do; an HF model's string is encoded as HF `tokenizer(text)` does); `n`, `max_tokens` (default and ceiling: what the context leaves), `temperature`, `top_p`,
 * `top_k`, `stop` (strings), `stop_token_ids`, `ignore_eos`, `seed`, `logprobs` (0..20),
 * `return_token_ids` (`token_ids` on each choice), `return_tokens_as_token_ids` (`"token_id:N"` in
 * `logprobs.tokens`), `include_stop_str_in_output`.
 *
 * - Log-probs are the policy's own (temperature 1, before top-k/top-p), as vLLM's default
 *   `raw_logprobs`, so a trainer can use them as PPO's old log-probs.
 * - Batching: requests that arrive within `batchWindowMs` of each other and share temperature,
 *   top-p, top-k and stop tokens run as one batch on the policy (the longest `max_tokens` of the
 *   batch, each row cut to its own). Row j of a request draws from `Rng.seeded(seed).fold(j)`
 *   whatever it is batched with, so a seeded request gives the same completions alone or batched.
 * - Stop strings of one character that is a token stop the row at once; longer ones are found in
 *   the decoded text after sampling. `token_ids` keep the stop token(s), `text` drops the stop text.
 * - Sampling runs on the event loop: a batch holds the server until it ends (small policies).
 */
import { readFileSync } from "node:fs"
import { createServer } from "node:http"
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import { basename, join, resolve } from "node:path"
import { Effect, Schema } from "effect"
import type { Scope } from "effect"
import { Rng } from "@duet/core"
import { tf } from "@duet/engine"
import { Checkpoint, Gpt, Hf, Sampler as PolicySampler, Tokenizer } from "@duet/model"
import type { HfTokenizer, Policy, TokenizerLike } from "@duet/model"

export interface Options {
  /** A duet checkpoint directory (with a tokenizer in its config.json), or a Hugging Face model directory (with tokenizer.json). */
  readonly checkpoint: string
  /** Interface to listen on ("127.0.0.1": loopback only). */
  readonly host?: string
  /** Port (0: any free one; see `Running.port`). */
  readonly port?: number
  /** The model id clients send and `/v1/models` lists (the checkpoint directory's name). */
  readonly modelName?: string
  /** Largest request body in bytes (1 MiB). */
  readonly maxBodyBytes?: number
  /** Largest `max_tokens` a request may ask for (the context length). */
  readonly maxTokens?: number
  /** Most completions (prompts x n) in one request (1024). */
  readonly maxCompletions?: number
  /** Most rows sampled together in one batch (1024; a 2-GRPO step of 256 prompts is 512). */
  readonly maxBatchRows?: number
  /** How long the first queued request waits for others to batch with (5 ms). */
  readonly batchWindowMs?: number
  /** Log lines (one per request batch, reloads); default: none. */
  readonly log?: (line: string) => void
}

export interface Running {
  /** `http://host:port/v1`, the base URL clients use. */
  readonly baseUrl: string
  readonly port: number
  readonly modelName: string
  /** Requests answered and batches run so far (for logs and tests). */
  readonly stats: () => { readonly requests: number; readonly batches: number; readonly rows: number; readonly weightsVersion: number }
}

/** The server could not start (bad checkpoint, port in use). */
export class ServeError extends Schema.TaggedError<ServeError>()("ServeError", {
  message: Schema.String
}) {}

/** An OpenAI-shaped error response. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type = status >= 500 ? "internal_server_error" : status === 404 ? "not_found_error" : "invalid_request_error"
  ) {
    super(message)
  }
}

interface Model {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly policy: Policy<any>
  readonly tokenizer: TokenizerLike
  /** What a reload must match: the config and the tokenizer. */
  readonly spec: string
  /** A Hugging Face model's tokenizer: string prompts encoded as HF does, its eos ids, its chat template. */
  readonly hf?: HfTokenizer
}

/** A duet checkpoint (`model_type: "duet-gpt"`), or else a Hugging Face directory. */
const isDuetCheckpoint = (dir: string): boolean => {
  try {
    return (JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as { model_type?: unknown }).model_type === "duet-gpt"
  } catch {
    return true // let Checkpoint.load say what is wrong with it
  }
}

const loadModel = async (dir: string): Promise<Model> => {
  if (!isDuetCheckpoint(dir)) {
    const loaded = await Hf.load(dir)
    if (loaded.tokenizer === undefined) {
      loaded.policy.dispose()
      throw new Error(`${dir}: no tokenizer.json, so text cannot be mapped to token ids`)
    }
    return { policy: loaded.policy, tokenizer: loaded.tokenizer, hf: loaded.tokenizer, spec: JSON.stringify([loaded.policy.config, loaded.tokenizer.vocabSize]) }
  }
  const loaded = await Checkpoint.load(dir)
  try {
    if (loaded.tokenizer === undefined) throw new Error(`${dir}: config.json has no tokenizer, so text cannot be mapped to token ids`)
    const tokenizer = Tokenizer.fromSpec(loaded.tokenizer)
    if (tokenizer.vocabSize !== loaded.config.vocabSize) throw new Error(`${dir}: tokenizer has ${tokenizer.vocabSize} ids, the model ${loaded.config.vocabSize}`)
    return { policy: Gpt.fromParams(loaded.config, loaded.params), tokenizer, spec: JSON.stringify([loaded.config, loaded.tokenizer]) }
  } finally {
    Checkpoint.dispose(loaded)
  }
}

/** The sampling settings rows must share to run in one batch. */
interface BatchKey {
  readonly temperature: number
  readonly topP: number
  readonly topK: number
  readonly stopTokens: ReadonlyArray<number>
}

interface Job {
  readonly key: string
  readonly settings: BatchKey
  readonly prompts: ReadonlyArray<Int32Array>
  readonly streams: ReadonlyArray<Rng>
  readonly maxTokens: number
  readonly resolve: (rows: PolicySampler.Completion[]) => void
  readonly reject: (e: unknown) => void
}

/** A generator whose `split().fold(i)` is row i's own stream: how a batch keeps each request's seeds. */
const rowStreams = (streams: ReadonlyArray<Rng>): Rng => ({ split: () => ({ fold: (i: number) => streams[i]! }) }) as unknown as Rng

interface Parsed {
  readonly prompts: ReadonlyArray<Int32Array>
  readonly n: number
  readonly maxTokens: number | null
  readonly settings: BatchKey
  readonly stopStrings: ReadonlyArray<string>
  readonly seed: number
  readonly logprobs: number | null
  readonly returnTokenIds: boolean
  readonly tokensAsIds: boolean
  readonly includeStop: boolean
}

const isInt = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x)

/** Validates a completions body; every problem is a 400 naming the field. */
const parseCompletions = (body: Record<string, unknown>, model: Model, modelName: string, limits: { maxCompletions: number }): Parsed => {
  const { policy, tokenizer } = model
  const V = policy.config.vocabSize
  const bad = (param: string, message: string) => new ApiError(400, message, param)
  if (body.model !== undefined && body.model !== modelName) throw new ApiError(404, `The model \`${String(body.model)}\` does not exist; this server has \`${modelName}\`.`, "model", "model_not_found")
  if (body.stream === true) throw bad("stream", "stream is not supported by duet serve")
  if (body.echo === true) throw bad("echo", "echo is not supported by duet serve")
  if (body.suffix !== undefined && body.suffix !== null) throw bad("suffix", "suffix is not supported by duet serve")
  const p = body.prompt
  let raw: Array<string | ReadonlyArray<unknown>>
  if (typeof p === "string") raw = [p]
  else if (Array.isArray(p) && p.length > 0 && p.every((x) => typeof x === "number")) raw = [p]
  else if (Array.isArray(p) && p.length > 0 && p.every((x) => typeof x === "string" || Array.isArray(x))) raw = p as Array<string | unknown[]>
  else throw bad("prompt", "prompt must be a string, a list of strings, a list of token ids, or a list of lists of token ids")
  const prompts = raw.map((x, i) => {
    let ids: Int32Array
    if (typeof x === "string") {
      try {
        ids = model.hf !== undefined ? model.hf.encode(x, { addSpecialTokens: true }) : Int32Array.from([tokenizer.bos ?? tokenizer.eos, ...tokenizer.encode(x)])
      } catch (e) {
        throw bad("prompt", `prompt ${i}: ${(e as Error).message}`)
      }
    } else {
      if (x.length === 0) throw bad("prompt", `prompt ${i} has no token ids`)
      const j = x.findIndex((t) => !isInt(t) || t < 0 || t >= V)
      if (j >= 0) throw bad("prompt", `prompt ${i}: token ${String(x[j])} at ${j} is outside [0, ${V})`)
      ids = Int32Array.from(x as number[])
    }
    if (ids.length >= policy.config.blockSize) throw bad("prompt", `prompt ${i} has ${ids.length} tokens; this model's maximum context length is ${policy.config.blockSize}`)
    return ids
  })
  const n = body.n ?? 1
  if (!isInt(n) || n < 1) throw bad("n", `n must be an integer >= 1, got ${JSON.stringify(n)}`)
  if (body.best_of !== undefined && body.best_of !== null && body.best_of !== n) throw bad("best_of", "best_of other than n is not supported")
  if (prompts.length * n > limits.maxCompletions) throw bad("n", `${prompts.length} prompts x n = ${n} is ${prompts.length * n} completions; the limit is ${limits.maxCompletions}`)
  const maxTokens = body.max_tokens ?? null
  if (maxTokens !== null && (!isInt(maxTokens) || maxTokens < 0)) throw bad("max_tokens", `max_tokens must be an integer >= 0, got ${JSON.stringify(maxTokens)}`)
  const temperature = body.temperature ?? 1
  if (typeof temperature !== "number" || !Number.isFinite(temperature) || temperature < 0) throw bad("temperature", `temperature must be a number >= 0, got ${JSON.stringify(temperature)}`)
  const topP = body.top_p ?? 1
  if (typeof topP !== "number" || !(topP > 0 && topP <= 1)) throw bad("top_p", `top_p must be in (0, 1], got ${JSON.stringify(topP)}`)
  const topKIn = body.top_k ?? 0
  if (!isInt(topKIn) || topKIn < -1) throw bad("top_k", `top_k must be an integer >= -1 (-1 or 0: off), got ${JSON.stringify(topKIn)}`)
  const stopIn = body.stop ?? []
  const stopStrings = typeof stopIn === "string" ? [stopIn] : stopIn
  if (!Array.isArray(stopStrings) || stopStrings.length > 16 || !stopStrings.every((s) => typeof s === "string" && s.length > 0)) {
    throw bad("stop", "stop must be a non-empty string or a list of at most 16 non-empty strings")
  }
  const stopIds = body.stop_token_ids ?? []
  if (!Array.isArray(stopIds) || !stopIds.every((t) => isInt(t) && t >= 0 && t < V)) throw bad("stop_token_ids", `stop_token_ids must be a list of token ids in [0, ${V})`)
  const stopTokens = new Set<number>(stopIds as number[])
  if (body.ignore_eos !== true) for (const id of model.hf?.stopTokens ?? [tokenizer.eos]) stopTokens.add(id)
  for (const s of stopStrings as string[]) {
    if (Array.from(s).length !== 1) continue
    try {
      const ids = tokenizer.encode(s)
      if (ids.length === 1) stopTokens.add(ids[0]!)
    } catch {
      // a character outside the alphabet can never be sampled: nothing to stop on
    }
  }
  const seed = body.seed ?? null
  if (seed !== null && !isInt(seed)) throw bad("seed", `seed must be an integer, got ${JSON.stringify(seed)}`)
  const logprobs = body.logprobs ?? null
  if (logprobs !== null && logprobs !== false && (!isInt(logprobs) || logprobs < 0 || logprobs > 20)) throw bad("logprobs", `logprobs must be an integer in [0, 20], got ${JSON.stringify(logprobs)}`)
  return {
    prompts,
    n,
    maxTokens,
    settings: { temperature, topP, topK: Math.max(0, topKIn), stopTokens: [...stopTokens].sort((a, b) => a - b) },
    stopStrings: stopStrings as string[],
    seed: seed ?? Math.floor(Math.random() * 2 ** 31),
    logprobs: logprobs === null || logprobs === false ? null : (logprobs as number),
    returnTokenIds: body.return_token_ids === true,
    tokensAsIds: body.return_tokens_as_token_ids === true,
    includeStop: body.include_stop_str_in_output === true
  }
}

/** Top-`k` log-probs (temperature 1) at each completion position, by one forward over prompt + completion. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const topLogprobs = (policy: Policy<any>, prompt: Int32Array, tokens: Int32Array, k: number): Array<Array<[number, number]>> => {
  if (tokens.length === 0) return []
  const row = new Int32Array(prompt.length + tokens.length - 1)
  row.set(prompt)
  row.set(tokens.subarray(0, tokens.length - 1), prompt.length)
  const V = policy.config.vocabSize
  const lp = tf.tidy(() => {
    const logits = policy.logits(tf.tensor2d(row, [1, row.length], "int32")) // (1, T, V)
    const last = tf.slice(logits, [0, prompt.length - 1, 0], [1, tokens.length, V]) // (1, Tc, V)
    return tf.logSoftmax(tf.reshape(last, [tokens.length, V])) // (Tc, V)
  })
  const data = lp.dataSync() as Float32Array
  lp.dispose()
  return Array.from(tokens, (_, j) => {
    const r = data.subarray(j * V, (j + 1) * V)
    return Array.from(r.keys())
      .sort((a, b) => r[b]! - r[a]! || a - b)
      .slice(0, k)
      .map((id) => [id, r[id]!] as [number, number])
  })
}

/**
 * A sampled row cut at its first stop string: the kept tokens, the text and why it ended. Text is
 * decoded from whole token prefixes (a byte-level BPE character can span tokens).
 */
const finishRow = (
  row: PolicySampler.Completion,
  parsed: Parsed,
  tokenizer: TokenizerLike
): { tokens: Int32Array; logprobs: Float32Array; text: string; finish: "stop" | "length"; stopReason: string | number | null } => {
  const upTo = (k: number) => tokenizer.decode(row.tokens.subarray(0, k))
  if (parsed.stopStrings.length > 0) {
    for (let k = 1; k <= row.tokens.length; k++) {
      const text = upTo(k)
      const hit = parsed.stopStrings.find((s) => text.endsWith(s))
      if (hit !== undefined) {
        return {
          tokens: row.tokens.slice(0, k),
          logprobs: row.logprobs.slice(0, k),
          text: parsed.includeStop ? text : text.slice(0, text.length - hit.length),
          finish: "stop",
          stopReason: hit
        }
      }
    }
  }
  if (row.finishReason === "stop") {
    return {
      tokens: row.tokens,
      logprobs: row.logprobs,
      text: parsed.includeStop ? upTo(row.tokens.length) : upTo(row.tokens.length - 1),
      finish: "stop",
      stopReason: row.tokens[row.tokens.length - 1]!
    }
  }
  return { tokens: row.tokens, logprobs: row.logprobs, text: upTo(row.tokens.length), finish: "length", stopReason: null }
}

const readBody = (req: IncomingMessage, limit: number): Promise<string> =>
  new Promise((resolveBody, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0)
    if (declared > limit) return reject(new ApiError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes`))
    const chunks: Buffer[] = []
    let size = 0
    req.on("data", (c: Buffer) => {
      size += c.length
      if (size > limit) {
        reject(new ApiError(413, `request body exceeds the limit of ${limit} bytes`))
        req.removeAllListeners("data")
        req.resume()
      } else chunks.push(c)
    })
    req.on("end", () => resolveBody(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const send = (res: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const sendError = (res: ServerResponse, e: unknown): void => {
  const err = e instanceof ApiError ? e : new ApiError(500, `internal error: ${e instanceof Error ? e.message : String(e)}`)
  if (!res.headersSent) send(res, err.status, { error: { message: err.message, type: err.type, param: err.param, code: err.code ?? err.status } })
  else res.destroy()
}

/**
 * Starts the server; it stops (in-flight requests answered, idle connections closed, the policy
 * freed) when the scope closes: `duet serve` closes it on SIGINT/SIGTERM.
 */
export const serve = (options: Options): Effect.Effect<Running, ServeError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => start(options),
      catch: (e) => new ServeError({ message: e instanceof Error ? e.message : String(e) })
    }),
    ({ server, stop }) => Effect.promise(() => stop()).pipe(Effect.tap(() => Effect.sync(() => server.removeAllListeners())))
  ).pipe(Effect.map(({ running }) => running))

const start = async (options: Options): Promise<{ server: Server; running: Running; stop: () => Promise<void> }> => {
  let model = await loadModel(options.checkpoint)
  const modelName = options.modelName ?? basename(resolve(options.checkpoint))
  const host = options.host ?? "127.0.0.1"
  const maxBodyBytes = options.maxBodyBytes ?? 1 << 20
  const maxCompletions = options.maxCompletions ?? 1024
  const maxBatchRows = options.maxBatchRows ?? 1024
  const batchWindowMs = options.batchWindowMs ?? 5
  const log = options.log ?? (() => {})
  const created = Math.floor(Date.now() / 1000)
  const stats = { requests: 0, batches: 0, rows: 0, weightsVersion: 0 }

  // --- the batcher: jobs queue for batchWindowMs, then run grouped by sampling settings ---
  let queue: Job[] = []
  let timer: NodeJS.Timeout | undefined
  let draining = Promise.resolve()
  const runBatch = (jobs: Job[]) => {
    const prompts = jobs.flatMap((j) => j.prompts)
    const streams = jobs.flatMap((j) => j.streams)
    const { temperature, topP, topK, stopTokens } = jobs[0]!.settings
    stats.batches++
    stats.rows += prompts.length
    try {
      const rows = PolicySampler.sample(model.policy, prompts, {
        maxTokens: Math.max(...jobs.map((j) => j.maxTokens)),
        temperature,
        topP,
        topK,
        stopTokens,
        rng: rowStreams(streams)
      })
      let at = 0
      for (const job of jobs) {
        const mine = rows.slice(at, at + job.prompts.length).map((r) =>
          r.tokens.length > job.maxTokens ? { tokens: r.tokens.slice(0, job.maxTokens), logprobs: r.logprobs.slice(0, job.maxTokens), finishReason: "length" as const } : r
        )
        at += job.prompts.length
        job.resolve(mine)
      }
    } catch (e) {
      for (const job of jobs) job.reject(e)
    }
  }
  const flush = async () => {
    timer = undefined
    const jobs = queue
    queue = []
    const byKey = new Map<string, Job[]>()
    for (const j of jobs) byKey.set(j.key, [...(byKey.get(j.key) ?? []), j])
    for (const group of byKey.values()) {
      let batch: Job[] = []
      let rows = 0
      for (const job of group) {
        if (batch.length > 0 && rows + job.prompts.length > maxBatchRows) {
          runBatch(batch)
          await new Promise((r) => setImmediate(r)) // let other requests be read between batches
          batch = []
          rows = 0
        }
        batch.push(job)
        rows += job.prompts.length
      }
      runBatch(batch)
      await new Promise((r) => setImmediate(r))
    }
  }
  const enqueue = (job: Omit<Job, "resolve" | "reject">) =>
    new Promise<PolicySampler.Completion[]>((resolveJob, reject) => {
      queue.push({ ...job, resolve: resolveJob, reject })
      if (timer === undefined) timer = setTimeout(() => (draining = draining.then(flush)), batchWindowMs)
    })

  const completions = async (body: Record<string, unknown>) => {
    const current = model
    const parsed = parseCompletions(body, current, modelName, { maxCompletions })
    const { blockSize } = current.policy.config
    const limit = options.maxTokens ?? blockSize
    if (parsed.maxTokens !== null && parsed.maxTokens > limit) throw new ApiError(400, `max_tokens ${parsed.maxTokens} exceeds this server's limit of ${limit}`, "max_tokens")
    const prompts: Int32Array[] = []
    const streams: Rng[] = []
    const base = Rng.seeded(parsed.seed)
    for (const p of parsed.prompts) {
      for (let j = 0; j < parsed.n; j++) {
        prompts.push(p)
        streams.push(base.fold(streams.length))
      }
    }
    // the context bounds max_tokens (the row ends with "length" there), as the local sampler does
    const maxTokens = Math.min(parsed.maxTokens ?? limit, limit)
    const rows =
      maxTokens === 0
        ? prompts.map(() => ({ tokens: new Int32Array(0), logprobs: new Float32Array(0), finishReason: "length" as const }))
        : await enqueue({ key: JSON.stringify(parsed.settings), settings: parsed.settings, prompts, streams, maxTokens })
    let promptTokens = 0
    let completionTokens = 0
    const choices = rows.map((row, index) => {
      const prompt = prompts[index]!
      const done = finishRow(row, parsed, current.tokenizer)
      promptTokens += index % parsed.n === 0 ? prompt.length : 0
      completionTokens += done.tokens.length
      const label = (id: number) => (parsed.tokensAsIds ? `token_id:${id}` : current.tokenizer.decode([id]))
      let logprobs: unknown = null
      if (parsed.logprobs !== null) {
        const top = parsed.logprobs > 0 ? topLogprobs(current.policy, prompt, done.tokens, parsed.logprobs) : null
        let offset = 0
        logprobs = {
          tokens: Array.from(done.tokens, label),
          token_logprobs: Array.from(done.logprobs),
          top_logprobs: Array.from(done.tokens, (id, j) =>
            Object.fromEntries([...(top?.[j] ?? []), [id, done.logprobs[j]!] as [number, number]].map(([t, lp]) => [label(t), lp]))
          ),
          text_offset: Array.from(done.tokens, (id) => {
            const at = offset
            offset += current.tokenizer.decode([id]).length
            return at
          })
        }
      }
      return {
        index,
        text: done.text,
        logprobs,
        finish_reason: done.finish,
        stop_reason: done.stopReason,
        ...(parsed.returnTokenIds ? { token_ids: Array.from(done.tokens), prompt_token_ids: Array.from(prompt) } : {})
      }
    })
    return {
      id: `cmpl-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`,
      object: "text_completion",
      created: Math.floor(Date.now() / 1000),
      model: modelName,
      choices,
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens }
    }
  }

  /**
   * Chat: the messages rendered with the model's chat template (`add_generation_prompt`), then a
   * completion of those token ids; the answer as an assistant message, log-probs in the chat shape.
   */
  const chatCompletions = async (body: Record<string, unknown>) => {
    const current = model
    const hf = current.hf
    if (hf === undefined || !hf.hasChatTemplate) {
      const what = hf === undefined ? `a duet checkpoint with a ${current.tokenizer.toSpec().type}-level tokenizer` : "an HF model whose tokenizer has"
      throw new ApiError(400, `${modelName} is ${what} no chat template; use /v1/completions with a text prompt`, "messages", "chat_template_missing")
    }
    const messages = body.messages
    if (!Array.isArray(messages) || messages.length === 0) throw new ApiError(400, "messages must be a non-empty list of {role, content}", "messages")
    messages.forEach((m, i) => {
      const r = m as { role?: unknown; content?: unknown }
      if (typeof m !== "object" || m === null || typeof r.role !== "string" || typeof r.content !== "string") {
        throw new ApiError(400, `messages[${i}] must be {"role": string, "content": string}`, "messages")
      }
    })
    for (const field of ["tools", "tool_choice", "response_format", "functions"]) {
      if (body[field] !== undefined && body[field] !== null) throw new ApiError(400, `${field} is not supported by duet serve`, field)
    }
    if (body.logprobs !== undefined && body.logprobs !== null && typeof body.logprobs !== "boolean") throw new ApiError(400, "logprobs must be a boolean", "logprobs")
    const top = body.top_logprobs ?? 0
    if (!isInt(top) || top < 0 || top > 20) throw new ApiError(400, `top_logprobs must be an integer in [0, 20], got ${JSON.stringify(top)}`, "top_logprobs")
    let rendered: string
    try {
      rendered = hf.applyChatTemplate(messages as Array<{ role: string; content: string }>, { addGenerationPrompt: true })
    } catch (e) {
      throw new ApiError(400, `the chat template failed on these messages: ${(e as Error).message}`, "messages")
    }
    const { messages: _m, logprobs: _l, top_logprobs: _t, max_completion_tokens: maxCompletion, ...rest } = body
    const out = await completions({
      ...rest,
      prompt: Array.from(hf.encode(rendered)), // the template holds the special tokens
      logprobs: body.logprobs === true ? top : null,
      ...(maxCompletion !== undefined && maxCompletion !== null ? { max_tokens: maxCompletion } : {})
    })
    return {
      id: out.id.replace(/^cmpl-/, "chatcmpl-"),
      object: "chat.completion",
      created: out.created,
      model: out.model,
      choices: out.choices.map((c) => {
        const lp = c.logprobs as { tokens: string[]; token_logprobs: number[]; top_logprobs: Array<Record<string, number>> } | null
        return {
          index: c.index,
          message: { role: "assistant", content: c.text },
          logprobs:
            lp === null
              ? null
              : {
                  content: lp.tokens.map((token, j) => ({
                    token,
                    logprob: lp.token_logprobs[j]!,
                    bytes: Array.from(Buffer.from(token, "utf8")),
                    top_logprobs: Object.entries(lp.top_logprobs[j]!)
                      .filter(([t]) => top > 0 || t === token)
                      .slice(0, Math.max(top, 0))
                      .map(([t, l]) => ({ token: t, logprob: l, bytes: Array.from(Buffer.from(t, "utf8")) }))
                  }))
                },
          finish_reason: c.finish_reason,
          stop_reason: c.stop_reason,
          ...("token_ids" in c ? { token_ids: c.token_ids, prompt_token_ids: c.prompt_token_ids } : {})
        }
      }),
      usage: out.usage
    }
  }

  const reload = async (body: Record<string, unknown>) => {
    const path = body.model_path
    if (typeof path !== "string" || path === "") throw new ApiError(400, "model_path must be a checkpoint directory", "model_path")
    let next: Model
    try {
      next = await loadModel(path)
    } catch (e) {
      return { status: 400, body: { success: false, message: `cannot load ${path}: ${(e as Error).message}` } }
    }
    if (next.spec !== model.spec) {
      next.policy.dispose()
      return { status: 400, body: { success: false, message: `${path} has another config or tokenizer than the served model; weights can only be swapped for the same shape` } }
    }
    const old = model
    model = next // sampling is synchronous: no batch is running at this point
    old.policy.dispose()
    stats.weightsVersion++
    log(`weights reloaded from ${path} (version ${stats.weightsVersion})`)
    return { status: 200, body: { success: true, message: `Succeeded to update model weights from ${path}.`, weight_version: stats.weightsVersion } }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost")
    const route = `${req.method} ${url.pathname.replace(/\/+$/, "")}`
    const json = async (): Promise<Record<string, unknown>> => {
      const text = await readBody(req, maxBodyBytes)
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch (e) {
        throw new ApiError(400, `request body is not valid JSON: ${(e as Error).message}`)
      }
      if (typeof body !== "object" || body === null || Array.isArray(body)) throw new ApiError(400, "request body must be a JSON object")
      return body as Record<string, unknown>
    }
    switch (route) {
      case "GET /health":
        return send(res, 200, { status: "ok", model: modelName, weight_version: stats.weightsVersion })
      case "GET /v1/models":
        return send(res, 200, {
          object: "list",
          data: [{ id: modelName, object: "model", created, owned_by: "duet", root: resolve(options.checkpoint), max_model_len: model.policy.config.blockSize }]
        })
      case "POST /v1/completions": {
        const out = await completions(await json())
        stats.requests++
        return send(res, 200, out)
      }
      case "POST /v1/chat/completions": {
        const body = await json()
        const out = await chatCompletions(body)
        stats.requests++
        return send(res, 200, out)
      }
      case "POST /update_weights_from_disk": {
        const r = await reload(await json())
        return send(res, r.status, r.body)
      }
      default:
        if (["/health", "/v1/models", "/v1/completions", "/v1/chat/completions", "/update_weights_from_disk"].includes(url.pathname.replace(/\/+$/, ""))) {
          throw new ApiError(405, `method ${req.method} is not allowed on ${url.pathname}`)
        }
        throw new ApiError(404, `no route ${req.method} ${url.pathname}`)
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => sendError(res, e))
  })
  await new Promise<void>((ok, fail) => {
    server.once("error", fail)
    server.listen(options.port ?? 0, host, () => {
      server.off("error", fail)
      ok()
    })
  })
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  const shownHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host
  return {
    server,
    running: { baseUrl: `http://${shownHost}:${port}/v1`, port, modelName, stats: () => ({ ...stats }) },
    stop: async () => {
      await new Promise<void>((done) => {
        server.close(() => done())
        server.closeIdleConnections()
        setTimeout(() => server.closeAllConnections(), 5000).unref()
      })
      await draining
      model.policy.dispose()
    }
  }
}
