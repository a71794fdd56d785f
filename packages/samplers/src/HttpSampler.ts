/**
 * `HttpSampler`: the `Sampler` service over any OpenAI-compatible completions server (`duet serve`,
 * vLLM, SGLang, llama.cpp, TGI), and the small client it runs on (`makeClient`), which
 * `duet eval --endpoint` uses for text prompts.
 *
 * - Each group of identical consecutive prompt rows (a GRPO group) is asked with `n` = the group's
 *   size and the prompt as token ids. Consecutive groups of one size share a `POST /completions`
 *   (a list of prompts, as the OpenAI API allows; choice `i * n + j` is sample j of prompt i) up to
 *   `rowsPerRequest` rows, so a server sees a step's rollouts in a few large requests it can batch
 *   together. Each request carries a seed derived from the request's seed and its first row, so the
 *   same request gives the same completions on a server that honours seeds (duet serve does,
 *   whatever it batches the request with).
 * - Token ids come back through vLLM's extensions: `token_ids` on each choice (`return_token_ids`)
 *   or `logprobs.tokens` as `"token_id:N"` (`return_tokens_as_token_ids`); log-probs from
 *   `logprobs.token_logprobs`. A server that returns no log-probs gives NaN ones, which tells the
 *   trainer to recompute them locally.
 * - Stop tokens go as vLLM's `stop_token_ids` with `ignore_eos`, so a row ends exactly where the
 *   local sampler's would, its stop token included.
 * - Retries (Effect `Schedule`: exponential backoff with jitter) on 408/429/5xx, broken or refused
 *   connections, timeouts, and truncated or malformed bodies; other 4xx fail at once with the
 *   server's message. A `Retry-After` header (seconds or an HTTP date, RFC 9110 §10.2.3) on a 429
 *   or 503 lengthens that wait to what the server asked, up to `maxRetryAfter`. Each attempt moves to the next base URL, so a dead server's work goes to the
 *   others. A group's rows are filled only from one complete, validated response (exactly `n`
 *   choices, each index once), so a retry can neither lose nor duplicate a rollout.
 * - At most `concurrency` requests are in flight per layer; a backoff wait holds no slot.
 */
import { Duration, Effect, Layer, Schedule, Schema, Semaphore } from "effect"
import { Rng } from "@duet/core"
import type { Rollout } from "@duet/core"
import { Sampler, SamplerError } from "./Sampler.js"
import type { Completion, SampleRequest } from "./Sampler.js"

export interface ClientOptions {
  /** Base URLs, e.g. `http://127.0.0.1:8000/v1`; a URL with no path gets `/v1`. Requests spread over all. */
  readonly baseUrls: ReadonlyArray<string>
  /** Sent as `Authorization: Bearer ...` when given. */
  readonly apiKey?: string
  /** Most requests in flight at once (8). */
  readonly concurrency?: number
  /** Time limit of one attempt, response body included (120 s). */
  readonly timeout?: Duration.Input
  /** Most retries of one request after its first attempt (6). */
  readonly retries?: number
  /** First backoff delay; it doubles per retry, with jitter (250 ms). */
  readonly backoff?: Duration.Input
  /** Longest wait a server's `Retry-After` can ask for; a longer one is cut to this (60 s). */
  readonly maxRetryAfter?: Duration.Input
}

export interface Options extends ClientOptions {
  /** The `model` field of each request (the server's model name). */
  readonly model: string
  /** Most completions (rows) one request asks for; whole groups only, a larger group goes alone (128). */
  readonly rowsPerRequest?: number
}

/** One failed HTTP attempt (or the last of its retries); `retryable` says whether another try may help. */
export class RequestError extends Schema.TaggedError<RequestError>()("RequestError", {
  message: Schema.String,
  url: Schema.String,
  status: Schema.Number,
  retryable: Schema.Boolean,
  /** The server's `Retry-After`, in milliseconds, when it sent one. */
  retryAfterMs: Schema.optionalKey(Schema.Number)
}) {}

/**
 * A `Retry-After` header value in milliseconds: delta-seconds (`"3"`) or an HTTP date; undefined
 * when absent or unreadable (RFC 9110 §10.2.3). A date in the past is 0.
 */
export const parseRetryAfter = (value: string | null | undefined, now = Date.now()): number | undefined => {
  if (value === null || value === undefined) return undefined
  const v = value.trim()
  if (/^\d+$/.test(v)) return Number(v) * 1000
  const date = Date.parse(v)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** A completion choice as the OpenAI completions API returns it (the fields duet reads). */
export interface Choice {
  readonly index: number
  readonly text: string
  readonly finish_reason: string | null
  readonly token_ids?: ReadonlyArray<number> | null
  readonly logprobs?: { readonly tokens?: ReadonlyArray<string>; readonly token_logprobs?: ReadonlyArray<number | null> } | null
}

export interface CompletionsResponse {
  readonly choices: ReadonlyArray<Choice>
  readonly model?: string
}

/** Why a response cannot be used. */
export interface Problem {
  readonly reason: string
  readonly retryable: boolean
}

export interface Client {
  readonly baseUrls: ReadonlyArray<string>
  /**
   * `POST /completions` with retries; `check` rejects a well-formed but unusable body (retried
   * unless it says `retryable: false`).
   */
  readonly completions: (body: Record<string, unknown>, check?: (r: CompletionsResponse) => Problem | undefined) => Effect.Effect<CompletionsResponse, RequestError>
  /** The ids of `GET /models` on the first base URL that answers. */
  readonly models: Effect.Effect<ReadonlyArray<string>, RequestError>
}

/** `http://h:p` -> `http://h:p/v1`; other paths are kept; no trailing slash. */
export const normalizeBaseUrl = (url: string): string => {
  const u = new URL(url)
  const path = u.pathname.replace(/\/+$/, "")
  return `${u.origin}${path === "" ? "/v1" : path}`
}

const retryableStatus = (status: number): boolean => status === 408 || status === 409 || status === 429 || status >= 500

const errorMessage = (body: unknown, text: string): string => {
  const e = (body as { error?: unknown } | null)?.error
  if (typeof e === "string") return e
  if (typeof e === "object" && e !== null && typeof (e as { message?: unknown }).message === "string") return (e as { message: string }).message
  if (typeof (body as { message?: unknown } | null)?.message === "string") return (body as { message: string }).message
  return text.slice(0, 200)
}

/** A client over `options.baseUrls` (see the module comment for the retry rules). */
export const makeClient = (options: ClientOptions): Effect.Effect<Client> =>
  Effect.gen(function* () {
    if (options.baseUrls.length === 0) return yield* Effect.die(new Error("HttpSampler: give at least one base URL"))
    const baseUrls = options.baseUrls.map(normalizeBaseUrl)
    const concurrency = options.concurrency ?? 8
    const retries = options.retries ?? 6
    if (!Number.isInteger(concurrency) || concurrency < 1) return yield* Effect.die(new Error(`HttpSampler: concurrency must be an integer >= 1, got ${concurrency}`))
    if (!Number.isInteger(retries) || retries < 0) return yield* Effect.die(new Error(`HttpSampler: retries must be an integer >= 0, got ${retries}`))
    const timeoutMs = Duration.toMillis(Duration.fromInputUnsafe(options.timeout ?? "120 seconds"))
    const backoff = Duration.fromInputUnsafe(options.backoff ?? "250 millis")
    const maxRetryAfterMs = Duration.toMillis(Duration.fromInputUnsafe(options.maxRetryAfter ?? "60 seconds"))
    const slots = yield* Semaphore.make(concurrency)
    let nextUrl = 0

    const attempt = (base: string, method: "GET" | "POST", path: string, body: unknown, check: (r: unknown) => Problem | undefined) => {
      const url = base + path
      const fail = (message: string, status: number, retryable: boolean, retryAfterMs?: number) =>
        new RequestError({ message, url, status, retryable, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) })
      return Effect.tryPromise({
        try: async (signal) => {
          const res = await fetch(url, {
            method,
            headers: {
              "content-type": "application/json",
              ...(options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` })
            },
            ...(method === "POST" ? { body: JSON.stringify(body) } : {}),
            signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
          })
          const retryAfterMs = res.status === 429 || res.status === 503 ? parseRetryAfter(res.headers.get("retry-after")) : undefined
          return { status: res.status, text: await res.text(), retryAfterMs }
        },
        catch: (e) => {
          const err = e as Error & { cause?: { code?: string; message?: string } }
          if (err.name === "TimeoutError") return fail(`no complete response within ${timeoutMs} ms`, 0, true)
          return fail(`connection failed: ${err.cause?.code ?? err.cause?.message ?? err.message}`, 0, true)
        }
      }).pipe(
        Effect.flatMap(({ status, text, retryAfterMs }) => {
          let parsed: unknown
          try {
            parsed = JSON.parse(text)
          } catch {
            return Effect.fail(
              status >= 200 && status < 300
                ? fail(`malformed JSON body (${text.length} bytes): ${text.slice(0, 80)}`, status, true)
                : fail(`HTTP ${status}: ${text.slice(0, 200)}`, status, retryableStatus(status), retryAfterMs)
            )
          }
          if (status < 200 || status >= 300) return Effect.fail(fail(`HTTP ${status}: ${errorMessage(parsed, text)}`, status, retryableStatus(status), retryAfterMs))
          const bad = check(parsed)
          return bad === undefined ? Effect.succeed(parsed) : Effect.fail(fail(`unusable response: ${bad.reason}`, status, bad.retryable))
        }),
        Semaphore.withPermit(slots)
      )
    }

    /** One logical request: attempts rotate over the base URLs; backoff between them. */
    const call = (method: "GET" | "POST", path: string, body: unknown, check: (r: unknown) => Problem | undefined) =>
      Effect.suspend(() => {
        const start = nextUrl++
        let tries = 0
        return Effect.suspend(() => attempt(baseUrls[(start + tries++) % baseUrls.length]!, method, path, body, check)).pipe(
          Effect.retry({
            // the server's Retry-After, when it sent one, is the least wait (capped at maxRetryAfter)
            schedule: Schedule.exponential(backoff).pipe(
              Schedule.jittered,
              Schedule.modifyDelay(({ input, duration }) => {
                const asked = (input as RequestError).retryAfterMs
                return Effect.succeed(asked === undefined ? duration : Duration.millis(Math.max(Duration.toMillis(duration), Math.min(asked, maxRetryAfterMs))))
              })
            ),
            times: retries,
            while: (e: RequestError) => e.retryable
          })
        )
      })

    const completionsShape = (r: unknown): Problem | undefined => {
      const bad = (reason: string): Problem => ({ reason, retryable: true })
      const choices = (r as { choices?: unknown } | null)?.choices
      if (!Array.isArray(choices)) return bad("no choices array")
      for (const [i, c] of choices.entries()) {
        if (typeof c !== "object" || c === null) return bad(`choices[${i}] is not an object`)
        if (!Number.isInteger((c as Choice).index)) return bad(`choices[${i}].index is not an integer`)
        if (typeof (c as Choice).text !== "string") return bad(`choices[${i}].text is not a string`)
      }
      return undefined
    }

    return {
      baseUrls,
      completions: (body, check) =>
        call("POST", "/completions", body, (r) => completionsShape(r) ?? check?.(r as CompletionsResponse)) as Effect.Effect<CompletionsResponse, RequestError>,
      models: call("GET", "/models", undefined, (r) =>
        Array.isArray((r as { data?: unknown } | null)?.data) ? undefined : { reason: "no data array", retryable: true }
      ).pipe(
        Effect.map((r) => ((r as { data: Array<{ id?: unknown }> }).data.map((m) => String(m.id))))
      )
    }
  })

/** Rows [start, end) of a request that share one prompt. */
interface PromptGroup {
  readonly start: number
  readonly end: number
}

const sameIds = (a: Int32Array, b: Int32Array): boolean => a.length === b.length && a.every((x, i) => x === b[i])

/** Consecutive runs of identical prompts (a GRPO group is G copies of its prompt in a row). */
export const promptGroups = (prompts: ReadonlyArray<Int32Array>): PromptGroup[] => {
  const out: PromptGroup[] = []
  let start = 0
  for (let i = 1; i <= prompts.length; i++) {
    if (i === prompts.length || !sameIds(prompts[i]!, prompts[start]!)) {
      out.push({ start, end: i })
      start = i
    }
  }
  return out
}

const TOKEN_ID = /^token_id:(-?\d+)$/

/** The token ids, log-probs and finish reason of a choice, or what makes it unusable. */
export const readChoice = (c: Choice, maxTokens: number): Completion | Problem => {
  const bad = (reason: string, retryable = true): Problem => ({ reason, retryable })
  let tokens: number[] | undefined
  if (Array.isArray(c.token_ids)) tokens = [...c.token_ids]
  else if (Array.isArray(c.logprobs?.tokens)) {
    const ids = c.logprobs.tokens.map((t) => TOKEN_ID.exec(t)?.[1])
    if (ids.every((x) => x !== undefined)) tokens = ids.map(Number)
  }
  if (tokens === undefined) return bad(`choice ${c.index} has no token ids (the server must support vLLM's return_token_ids or return_tokens_as_token_ids)`, false)
  if (!tokens.every((t) => Number.isInteger(t) && t >= 0)) return bad(`choice ${c.index} has a token id that is not an integer >= 0`)
  if (tokens.length > maxTokens) return bad(`choice ${c.index} has ${tokens.length} tokens, more than max_tokens ${maxTokens}`)
  const lps = c.logprobs?.token_logprobs
  const logprobs =
    Array.isArray(lps) && lps.length === tokens.length ? Float32Array.from(lps, (x) => (typeof x === "number" ? x : NaN)) : new Float32Array(tokens.length).fill(NaN)
  const finishReason: Rollout.FinishReason | undefined = c.finish_reason === "stop" ? "stop" : c.finish_reason === "length" ? "length" : undefined
  if (finishReason === undefined) return bad(`choice ${c.index} has finish_reason ${JSON.stringify(c.finish_reason)} (expected "stop" or "length")`)
  return { tokens: Int32Array.from(tokens), logprobs, finishReason }
}

/** Consecutive groups of one size, packed into requests of at most `rowsPerRequest` rows (a larger group alone). */
export const requestGroups = (groups: ReadonlyArray<PromptGroup>, rowsPerRequest: number): PromptGroup[][] => {
  const out: PromptGroup[][] = []
  for (const g of groups) {
    const last = out[out.length - 1]
    const n = g.end - g.start
    if (last !== undefined && last[0]!.end - last[0]!.start === n && (last.length + 1) * n <= rowsPerRequest) last.push(g)
    else out.push([g])
  }
  return out
}

/** The completions request body of consecutive prompt groups of one size (rows `groups[0].start` on). */
export const groupBody = (model: string, request: SampleRequest, groups: PromptGroup | ReadonlyArray<PromptGroup>): Record<string, unknown> => {
  const list = Array.isArray(groups) ? (groups as ReadonlyArray<PromptGroup>) : [groups as PromptGroup]
  const group = list[0]!
  return {
    model,
    prompt: list.length === 1 ? Array.from(request.prompts[group.start]!) : list.map((g) => Array.from(request.prompts[g.start]!)),
    n: group.end - group.start,
    max_tokens: request.maxTokens,
    temperature: request.temperature,
    top_p: request.topP,
    ...(request.topK > 0 ? { top_k: request.topK } : {}),
    seed: Rng.seeded(request.seed).fold(group.start).nextUint32() & 0x7fffffff,
    stop_token_ids: [...request.stopTokens],
    ignore_eos: true,
    logprobs: 0,
    return_token_ids: true,
    return_tokens_as_token_ids: true,
    skip_special_tokens: false
  }
}

/**
 * The `Sampler` service over OpenAI-compatible servers (see the module comment); its client (and
 * the concurrency limit) is shared by every request made through it.
 */
export const make = (options: Options): Effect.Effect<Sampler["Service"]> =>
  Effect.gen(function* () {
    const client = yield* makeClient(options)
    const rowsPerRequest = options.rowsPerRequest ?? 128
    if (!Number.isInteger(rowsPerRequest) || rowsPerRequest < 1) return yield* Effect.die(new Error(`HttpSampler: rowsPerRequest must be an integer >= 1, got ${rowsPerRequest}`))
    return Sampler.of({
      name: `http(${client.baseUrls.join(", ")})`,
      sample: Effect.fn("Sampler.http.sample")(function* (request: SampleRequest) {
        const rows: Array<Completion | undefined> = request.prompts.map(() => undefined)
        yield* Effect.forEach(
          requestGroups(promptGroups(request.prompts), rowsPerRequest),
          (groups) => {
            const group = groups[0]!
            const n = (group.end - group.start) * groups.length // rows of this request, from group.start on
            const read: Completion[] = []
            const check = (r: CompletionsResponse): Problem | undefined => {
              read.length = 0
              if (r.choices.length !== n) return { reason: `${r.choices.length} choices for ${groups.length} prompts x n = ${group.end - group.start}`, retryable: true }
              const byIndex = new Array<Completion | undefined>(n)
              for (const c of r.choices) {
                if (c.index < 0 || c.index >= n || byIndex[c.index] !== undefined) return { reason: `choice index ${c.index} is out of range or repeated`, retryable: true }
                const completion = readChoice(c, request.maxTokens)
                if ("reason" in completion) return completion
                byIndex[c.index] = completion
              }
              read.push(...(byIndex as Completion[]))
              return undefined
            }
            return client.completions(groupBody(options.model, request, groups), check).pipe(
              Effect.map(() => {
                read.forEach((c, j) => {
                  rows[group.start + j] = c
                })
              })
            )
          },
          { concurrency: "unbounded", discard: true }
        ).pipe(Effect.mapError((e) => new SamplerError({ message: `http sampler: ${e.message} (${e.url})` })))
        const missing = rows.findIndex((r) => r === undefined)
        if (missing >= 0) return yield* new SamplerError({ message: `http sampler: row ${missing} got no completion` })
        return rows as Completion[]
      })
    })
  })

/** `make` as a layer: provide it where `Sampler.layerLocal` would go. */
export const layer = (options: Options): Layer.Layer<Sampler> => Layer.effect(Sampler, make(options))
