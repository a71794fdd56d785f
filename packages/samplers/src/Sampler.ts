/**
 * `Sampler`: the service that turns prompts into completions. One interface, several layers:
 * `layerLocal` runs duet's own GPT policy in-process (batched, KV cache, seeded); `layerTest` is a
 * deterministic fake for pipeline tests. Swapping samplers is providing another layer.
 */
import { Context, Effect, Layer, Schema } from "effect"
import { Rng } from "@duet/core"
import type { Rollout } from "@duet/core"
import { Sampler as PolicySampler } from "@duet/model"
import type { Policy } from "@duet/model"

export interface SampleRequest {
  /** Prompt token ids, one row per completion wanted (repeat a prompt G times for a group). */
  readonly prompts: ReadonlyArray<Int32Array>
  readonly maxTokens: number
  readonly temperature: number
  readonly topP: number
  readonly topK: number
  readonly stopTokens: ReadonlyArray<number>
  /** Seed of this request's draws (same seed, same completions). */
  readonly seed: number
}

export interface Completion {
  readonly tokens: Int32Array
  /** Policy log-prob (temperature 1) of each token: PPO's old log-prob. */
  readonly logprobs: Float32Array
  readonly finishReason: Rollout.FinishReason
}

export class SamplerError extends Schema.TaggedError<SamplerError>()("SamplerError", {
  message: Schema.String
}) {}

export class Sampler extends Context.Service<
  Sampler,
  {
    readonly name: string
    readonly sample: (request: SampleRequest) => Effect.Effect<ReadonlyArray<Completion>, SamplerError>
  }
>()("@duet/samplers/Sampler") {}

/**
 * Samples from a local policy. `policy` is read at each call, so an in-place update of its
 * parameters (the RL loop's optimizer step) is seen by the next request.
 */
export const layerLocal = (policy: () => Policy): Layer.Layer<Sampler> =>
  Layer.succeed(
    Sampler,
    Sampler.of({
      name: "local",
      sample: Effect.fn("Sampler.local.sample")(function* (request: SampleRequest) {
        return yield* Effect.try({
          try: () =>
            PolicySampler.sample(policy(), request.prompts, {
              maxTokens: request.maxTokens,
              temperature: request.temperature,
              topP: request.topP,
              topK: request.topK,
              stopTokens: request.stopTokens,
              seed: request.seed
            }),
          catch: (e) => new SamplerError({ message: `local sampler: ${e instanceof Error ? e.message : String(e)}` })
        })
      })
    })
  )

/**
 * A deterministic fake: each completion is `length` tokens drawn uniformly from `vocab` ids by a
 * seeded stream, then the first stop token (if listed) — for tests of code that consumes samples.
 */
export const layerTest = (options: { readonly vocab: ReadonlyArray<number>; readonly length: number }): Layer.Layer<Sampler> =>
  Layer.succeed(
    Sampler,
    Sampler.of({
      name: "test",
      sample: (request) =>
        Effect.sync(() => {
          const rng = Rng.seeded(request.seed)
          return request.prompts.map((_, i) => {
            const r = rng.fold(i)
            const n = Math.min(options.length, request.maxTokens)
            const tokens = Int32Array.from({ length: n }, () => options.vocab[r.int(options.vocab.length)]!)
            const stopAt = tokens.findIndex((t) => request.stopTokens.includes(t))
            const kept = stopAt >= 0 ? tokens.slice(0, stopAt + 1) : tokens
            return {
              tokens: kept,
              logprobs: new Float32Array(kept.length).fill(-Math.log(options.vocab.length)),
              finishReason: stopAt >= 0 ? ("stop" as const) : ("length" as const)
            }
          })
        })
    })
  )
