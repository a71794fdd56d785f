/**
 * Where the RL loop's rollouts come from, chosen by the recipe's `rl.sampler`:
 *
 * - `{ kind: "local" }` (or absent): the in-process policy, `Sampler.layerLocal`.
 * - `{ kind: "http", baseUrls, model?, concurrency?, timeoutMs?, retries?, rowsPerRequest?,
 *   pushWeights?, recomputeLogprobs? }`: OpenAI-compatible servers through `@duet/samplers` `HttpSampler`
 *   (`duet serve`, vLLM, SGLang). After each update, `afterUpdate` saves the policy under the run
 *   directory (a duet checkpoint; for an HF recipe, `model: { hf }`, an HF directory with the
 *   model's config and tokenizer files, the layout SGLang loads) and `POST`s `{ "model_path": DIR }` to each server's
 *   `/update_weights_from_disk` (SGLang's contract, which `duet serve` implements), so the next
 *   step samples from the updated weights: on-policy, as the local sampler.
 *
 * Log-probs: a row the server returned without log-probs (NaN), or every row with
 * `recomputeLogprobs` (a server sampling at another precision), gets them recomputed locally from
 * the policy at temperature 1 — the local sampler's convention — so the trainer's old log-probs
 * always have one finite value per token whatever the server.
 */
import { resolve } from "node:path"
import { Duration, Effect, Layer, Schedule, Schema } from "effect"
import { tf } from "@duet/engine"
import { Checkpoint, HfCheckpoint } from "@duet/model"
import type { Llama, Policy } from "@duet/model"
import { HttpSampler, Sampler } from "@duet/samplers"
import type { Recipe } from "./Recipe.js"
import type * as Tokens from "./Tokens.js"

type HttpSpec = Extract<NonNullable<Recipe["rl"]["sampler"]>, { kind: "http" }>

export class RolloutSourceError extends Schema.TaggedError<RolloutSourceError>()("RolloutSourceError", {
  message: Schema.String
}) {}

/** The directory the policy is saved to for the servers (overwritten atomically at each push). */
export const weightsDir = (runDir: string): string => resolve(runDir, "rollout-weights")

/** `http://h:p/v1` -> `http://h:p/update_weights_from_disk` (the route sits beside `/v1`, as SGLang's). */
export const reloadUrl = (baseUrl: string): string => {
  const u = new URL(HttpSampler.normalizeBaseUrl(baseUrl))
  return `${u.origin}${u.pathname.replace(/\/v1$/, "")}/update_weights_from_disk`
}

const httpSpec = (recipe: Recipe): HttpSpec | undefined => (recipe.rl.sampler?.kind === "http" ? recipe.rl.sampler : undefined)

/** Whether `afterUpdate` pushes weights for this recipe (http with `pushWeights` not false). */
export const pushesWeights = (recipe: Recipe): boolean => {
  const spec = httpSpec(recipe)
  return spec !== undefined && spec.pushWeights !== false
}

/** Log-probs (temperature 1) of each completion token under `policy`, computed in chunks of rows. */
export const recomputeLogprobs = (
  policy: Policy<any>,
  prompts: ReadonlyArray<Int32Array>,
  completions: ReadonlyArray<Int32Array>,
  chunk = 256
): Float32Array[] => {
  const out: Float32Array[] = []
  for (let at = 0; at < prompts.length; at += chunk) {
    const p = prompts.slice(at, at + chunk)
    const c = completions.slice(at, at + chunk)
    const lp = tf.tidy(() => policy.sequenceLogprobs(p, c).logprobs) // (B, Tc)
    const width = lp.shape[1]!
    const data = lp.dataSync() as Float32Array
    lp.dispose()
    c.forEach((row, i) => out.push(data.slice(i * width, i * width + row.length)))
  }
  return out
}

/**
 * The recipe's rollout sampler as a `Sampler` layer. `policy` is read at each request (the trainer's
 * current parameters: the local sampler's policy, and the log-probs a server left out); `codec`
 * bounds the token ids a server may return (a server with another vocabulary fails at once).
 */
export const layer = (recipe: Recipe, policy: () => Policy<any>, codec: Tokens.Codec): Layer.Layer<Sampler.Sampler> => {
  const spec = httpSpec(recipe)
  if (spec === undefined) return Sampler.layerLocal(policy)
  let model = spec.model // discovered once, shared by every build of the layer
  const vocab = codec.tokenizer.vocabSize
  return Layer.effect(
    Sampler.Sampler,
    Effect.gen(function* () {
      const options = {
        baseUrls: spec.baseUrls,
        ...(spec.concurrency === undefined ? {} : { concurrency: spec.concurrency }),
        ...(spec.timeoutMs === undefined ? {} : { timeout: Duration.millis(spec.timeoutMs) }),
        ...(spec.retries === undefined ? {} : { retries: spec.retries }),
        ...(spec.rowsPerRequest === undefined ? {} : { rowsPerRequest: spec.rowsPerRequest })
      }
      const client = yield* HttpSampler.makeClient(options)
      let inner: Sampler.Sampler["Service"] | undefined
      const modelName = Effect.suspend(() =>
        model !== undefined
          ? Effect.succeed(model)
          : client.models.pipe(
              Effect.mapError((e) => new Sampler.SamplerError({ message: `rl.sampler: cannot list the models of ${e.url}: ${e.message}` })),
              Effect.flatMap((ids) =>
                ids.length === 1
                  ? Effect.sync(() => (model = ids[0]!))
                  : Effect.fail(new Sampler.SamplerError({ message: `rl.sampler: ${spec.baseUrls[0]} serves ${ids.length} models (${ids.join(", ")}); set rl.sampler.model` }))
              )
            )
      )
      return Sampler.Sampler.of({
        name: `http(${client.baseUrls.join(", ")})`,
        sample: Effect.fn("RolloutSource.http.sample")(function* (request: Sampler.SampleRequest) {
          const name = yield* modelName
          inner ??= yield* HttpSampler.make({ ...options, model: name })
          const rows = yield* inner.sample(request)
          for (const [i, row] of rows.entries()) {
            const j = row.tokens.findIndex((t) => t >= vocab)
            if (j >= 0) {
              return yield* new Sampler.SamplerError({
                message: `rl.sampler: ${name} returned token id ${row.tokens[j]} (row ${i}), outside the policy's vocabulary of ${vocab}: the server runs another tokenizer`
              })
            }
          }
          const redo = rows.flatMap((row, i) => (spec.recomputeLogprobs === true || row.logprobs.some((x) => !Number.isFinite(x)) ? [i] : []))
          if (redo.length === 0) return rows
          const fresh = yield* Effect.try({
            try: () =>
              recomputeLogprobs(
                policy(),
                redo.map((i) => request.prompts[i]!),
                redo.map((i) => rows[i]!.tokens)
              ),
            catch: (e) => new Sampler.SamplerError({ message: `rl.sampler: recomputing log-probs locally: ${e instanceof Error ? e.message : String(e)}` })
          })
          const out = [...rows]
          redo.forEach((i, k) => {
            out[i] = { ...rows[i]!, logprobs: fresh[k]! }
          })
          return out
        })
      })
    })
  )
}

const errorText = (e: unknown): string => {
  const err = e as Error & { cause?: { code?: string; message?: string } }
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e)
}

/** `POST {model_path}` to one server's reload route; retried on broken connections and 5xx. */
const reload = (url: string, modelPath: string, timeoutMs: number) =>
  Effect.tryPromise({
    try: async (signal) => {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model_path: modelPath }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
      })
      return { status: res.status, text: await res.text() }
    },
    catch: (e) => ({ retryable: true, message: `${url}: ${errorText(e)}` })
  }).pipe(
    Effect.flatMap(({ status, text }) => {
      let body: { success?: unknown; message?: unknown; error?: { message?: unknown } } | undefined
      try {
        body = JSON.parse(text)
      } catch {
        body = undefined
      }
      const said = typeof body?.message === "string" ? body.message : typeof body?.error?.message === "string" ? body.error.message : text.slice(0, 200)
      if (status >= 200 && status < 300 && body?.success !== false) return Effect.void
      const hint = status === 404 ? " (this server has no /update_weights_from_disk: set rl.sampler.pushWeights to false and reload it yourself)" : ""
      return Effect.fail({ retryable: status >= 500, message: `${url}: HTTP ${status}: ${said}${hint}` })
    }),
    Effect.retry({ schedule: Schedule.exponential("200 millis"), times: 3, while: (e) => e.retryable })
  )

/**
 * After the optimizer step that ends RL step `step`: with an http sampler and `pushWeights` (the
 * default), saves `policy` to `weightsDir(runDir)` (atomically, replacing the last push) and has
 * every server reload it; otherwise nothing. Call it also once before the first RL step (with the
 * step the loop starts at), so the servers start from the trainer's policy, not from whatever they
 * were launched with. `codec` gives the checkpoint its tokenizer (servers map text with it).
 */
export const afterUpdate = (
  recipe: Recipe,
  policy: Policy<any>,
  step: number,
  runDir: string,
  codec: Tokens.Codec
): Effect.Effect<void, RolloutSourceError> =>
  Effect.gen(function* () {
    const spec = httpSpec(recipe)
    if (spec === undefined || spec.pushWeights === false) return
    const dir = weightsDir(runDir)
    const meta = { step, for: "rollout servers" }
    const hf = "hf" in recipe.model ? (recipe.model as { hf: string }).hf : undefined
    yield* Effect.tryPromise({
      try: () =>
        hf === undefined
          ? Checkpoint.save(dir, { config: policy.config, params: policy.params, tokenizer: codec.tokenizer, meta })
          : HfCheckpoint.save(dir, policy as Llama.Policy, { sourceDir: hf, meta }),
      catch: (e) => new RolloutSourceError({ message: `rl.sampler: saving the weights for the servers to ${dir}: ${errorText(e)}` })
    })
    const timeoutMs = spec.timeoutMs ?? 120_000
    yield* Effect.forEach(spec.baseUrls, (u) => reload(reloadUrl(u), dir, timeoutMs), { concurrency: "unbounded", discard: true }).pipe(
      Effect.mapError((e) => new RolloutSourceError({ message: `rl.sampler: pushing the step-${step} weights: ${e.message}` }))
    )
  })
