/**
 * Batched sampling from a `Policy` with a KV cache: temperature, top-k, top-p (nucleus, Holtzman et
 * al. 2020), max tokens, stop tokens, a finish reason per row, and seeded draws.
 *
 * - Rows run in lockstep from position 0. The prompts' common length is prefilled in one forward;
 *   a row with a longer prompt is fed its own prompt tokens until they run out, then samples.
 *   Finished rows leave the batch (with the in-place cache).
 * - Row i draws from its own stream `base.fold(i)`, one uniform per sampled token, so a row's
 *   completion depends only on the seed, its index and its prompt — the cached and the uncached
 *   path (`cache: "none"`, a full forward per token: the test reference) draw the same tokens.
 * - Filters apply in the order of HF `generate` and vLLM: temperature, then top-k (ties with the
 *   k-th logit kept), then top-p on the renormalised survivors (the smallest set, in descending
 *   probability, whose mass reaches p; the most likely token always survives).
 * - `logprobs` are the policy's own: log-softmax of the raw logits (temperature 1, no filtering),
 *   i.e. what PPO's old log-prob needs, not the log-prob under the filtered sampling distribution.
 * - A stop token ends its row with `"stop"` and is included in `tokens` (so training sees it);
 *   otherwise the row ends with `"length"` after `maxTokens` tokens, or earlier when prompt +
 *   completion reach the context length `blockSize`.
 */
import { InvalidArgumentError, Rng } from "@duet/core"
import type { Rollout } from "@duet/core"
import { tf } from "./internal/Tfjs.js"
import * as KvCache from "./KvCache.js"
import type { ModelConfig, Policy as AnyPolicy } from "./Policy.js"

/** Any model the sampler can run: the GPT or an HF family. */
type Policy = AnyPolicy<ModelConfig>

export interface SampleOptions {
  /** Most tokens to generate per row (>= 0). */
  readonly maxTokens: number
  /** Softmax temperature (1); 0 means greedy (argmax, lowest id on ties). */
  readonly temperature?: number
  /** Nucleus mass in (0, 1] (1 = off). */
  readonly topP?: number
  /** Keep the k most likely tokens (0 = off). */
  readonly topK?: number
  /** Token ids that end a row (included in its tokens). */
  readonly stopTokens?: ReadonlyArray<number>
  /** Seed of the draws; give this or `rng`. */
  readonly seed?: number
  /** Generator to draw from (advanced by one split per call); give this or `seed`. */
  readonly rng?: Rng
  /**
   * Index of the first prompt in a larger list (0): row i draws from `base.fold(firstRow + i)`, so a
   * list sampled in chunks with the same seed draws what one call over all of it would.
   */
  readonly firstRow?: number
  /**
   * "inPlace" (default: the engine's fused cache), "concat" (plain-tfjs baseline), "none" (full
   * forward per token, the reference), or a factory of any `KvCache`.
   */
  readonly cache?: "inPlace" | "concat" | "none" | ((layout: KvCache.KvLayout, batch: number, capacity: number) => KvCache.KvCache)
  /** With `cache: "inPlace"`: use this package's JS cache with this attention kernel instead of the engine's. */
  readonly decodeAttention?: KvCache.DecodeAttention
}

export interface Completion {
  readonly tokens: Int32Array
  /** log p(token | prefix) under the policy at temperature 1, one per token. */
  readonly logprobs: Float32Array
  readonly finishReason: Rollout.FinishReason
}

interface Filters {
  readonly temperature: number
  readonly topP: number
  readonly topK: number
}

const checkOptions = (o: SampleOptions, vocabSize: number): Filters & { stop: Set<number> } => {
  const temperature = o.temperature ?? 1
  const topP = o.topP ?? 1
  const topK = o.topK ?? 0
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 0) throw new InvalidArgumentError("maxTokens", `must be an integer >= 0, got ${o.maxTokens}`)
  if (!(Number.isFinite(temperature) && temperature >= 0)) throw new InvalidArgumentError("temperature", `must be finite and >= 0, got ${temperature}`)
  if (!(topP > 0 && topP <= 1)) throw new InvalidArgumentError("topP", `must be in (0, 1], got ${topP}`)
  if (!Number.isInteger(topK) || topK < 0) throw new InvalidArgumentError("topK", `must be an integer >= 0, got ${topK}`)
  if ((o.seed === undefined) === (o.rng === undefined)) throw new InvalidArgumentError("seed", "give exactly one of seed or rng")
  if (o.firstRow !== undefined && !(Number.isInteger(o.firstRow) && o.firstRow >= 0)) throw new InvalidArgumentError("firstRow", `must be an integer >= 0, got ${o.firstRow}`)
  const stop = new Set<number>()
  for (const [i, t] of (o.stopTokens ?? []).entries()) {
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize) throw new InvalidArgumentError(`stopTokens[${i}]`, `token ${t} outside [0, ${vocabSize})`)
    stop.add(t)
  }
  return { temperature, topP, topK, stop }
}

/**
 * The sampling weights one row's logits give after temperature, top-k and top-p: unnormalised,
 * 0 for filtered tokens. Exported for tests.
 */
export const samplingWeights = (logits: Float32Array, f: Filters): Float64Array => {
  const V = logits.length
  const w = new Float64Array(V)
  let max = -Infinity
  for (let j = 0; j < V; j++) if (logits[j]! > max) max = logits[j]!
  for (let j = 0; j < V; j++) w[j] = Math.exp((logits[j]! - max) / f.temperature)
  if ((f.topK > 0 && f.topK < V) || f.topP < 1) {
    const order = Array.from({ length: V }, (_, j) => j).sort((a, b) => logits[b]! - logits[a]! || a - b)
    let keep = V
    if (f.topK > 0 && f.topK < V) {
      const kth = logits[order[f.topK - 1]!]!
      keep = f.topK
      while (keep < V && logits[order[keep]!]! === kth) keep++
    }
    if (f.topP < 1) {
      let total = 0
      for (let r = 0; r < keep; r++) total += w[order[r]!]!
      let mass = 0
      let r = 0
      while (r < keep && mass < f.topP * total) mass += w[order[r++]!]!
      keep = Math.max(1, r)
    }
    for (let r = keep; r < V; r++) w[order[r]!] = 0
  }
  return w
}

/**
 * Draws one token from a logits row and returns it with its temperature-1 log-prob. One pass for
 * the max and the log-sum-exp; the sort only when top-k or top-p is on. `w` is scratch (V).
 */
const pick = (logits: Float32Array, f: Filters, rng: Rng, w: Float64Array): { id: number; logprob: number } => {
  const V = logits.length
  let max = -Infinity
  let argmax = 0
  for (let j = 0; j < V; j++) {
    if (logits[j]! > max) {
      max = logits[j]!
      argmax = j
    }
  }
  let total = 0
  for (let j = 0; j < V; j++) {
    const e = Math.exp(logits[j]! - max)
    w[j] = e
    total += e
  }
  const logZ = max + Math.log(total)
  let id: number
  if (f.temperature === 0) id = argmax
  else if ((f.topK === 0 || f.topK >= V) && f.topP >= 1) {
    if (f.temperature !== 1) for (let j = 0; j < V; j++) w[j] = Math.exp((logits[j]! - max) / f.temperature)
    id = rng.categorical(w)
  } else id = rng.categorical(samplingWeights(logits, f))
  return { id, logprob: logits[id]! - logZ }
}

/** Where a step's logits come from: a KV cache, or a full forward over the rows so far. */
interface LogitsSource {
  /** Logits (B, V) at position `length - 1` after the first `length` tokens of every row. */
  start(seqs: Int32Array[], length: number): Float32Array
  /** Logits (rows, V) at `position` after feeding each row's token at `position`. */
  step(seqs: Int32Array[], rows: Int32Array, position: number): Float32Array
  dispose(): void
}

const read = (t: tf.Tensor): Float32Array => {
  const d = t.dataSync() as Float32Array
  t.dispose()
  return d
}

const matrix = (seqs: Int32Array[], rows: ArrayLike<number>, length: number): tf.Tensor2D => {
  const data = new Int32Array(rows.length * length)
  for (let i = 0; i < rows.length; i++) data.set(seqs[rows[i]!]!.subarray(0, length), i * length)
  return tf.tensor2d(data, [rows.length, length], "int32")
}

const cachedSource = (policy: Policy, cache: KvCache.KvCache): LogitsSource => ({
  start(seqs, length) {
    const tokens = matrix(seqs, Int32Array.from(seqs.keys()), length)
    try {
      return read(policy.prefill(tokens, cache))
    } finally {
      tokens.dispose()
    }
  },
  step(seqs, rows, position) {
    if (cache.rowSubsets) {
      const tokens = Int32Array.from(rows, (b) => seqs[b]![position]!)
      return read(policy.decodeStep(tokens, rows, position, cache))
    }
    // every row steps; finished rows repeat a harmless token and their logits are dropped
    const all = Int32Array.from(seqs.keys())
    const logits = read(policy.decodeStep(Int32Array.from(all, (b) => seqs[b]![position]!), all, position, cache))
    const V = policy.config.vocabSize
    const out = new Float32Array(rows.length * V)
    for (let i = 0; i < rows.length; i++) out.set(logits.subarray(rows[i]! * V, (rows[i]! + 1) * V), i * V)
    return out
  },
  dispose: () => cache.dispose()
})

const uncachedSource = (policy: Policy): LogitsSource => {
  const lastLogits = (seqs: Int32Array[], rows: ArrayLike<number>, length: number) =>
    read(
      tf.tidy(() => {
        const logits = policy.logits(matrix(seqs, rows, length)) // (N, length, V)
        const [N, , V] = logits.shape
        return tf.reshape(tf.slice(logits, [0, length - 1, 0], [N, 1, V]), [N, V])
      })
    )
  return {
    start: (seqs, length) => lastLogits(seqs, Int32Array.from(seqs.keys()), length),
    step: (seqs, rows, position) => lastLogits(seqs, rows, position + 1),
    dispose() {}
  }
}

/** Samples one completion per prompt; see the module comment for the exact semantics. */
export const sample = (policy: Policy, prompts: ReadonlyArray<Int32Array>, options: SampleOptions): Completion[] => {
  const { vocabSize: V, blockSize } = policy.config
  const f = checkOptions(options, V)
  if (prompts.length === 0) throw new InvalidArgumentError("prompts", "no rows")
  prompts.forEach((p, i) => {
    if (p.length < 1) throw new InvalidArgumentError(`prompts[${i}]`, "is empty (start it with BOS)")
    if (p.length >= blockSize) throw new InvalidArgumentError(`prompts[${i}]`, `length ${p.length} leaves no room in blockSize ${blockSize}`)
    p.forEach((t, j) => {
      if (!Number.isInteger(t) || t < 0 || t >= V) throw new InvalidArgumentError(`prompts[${i}][${j}]`, `token ${t} outside [0, ${V})`)
    })
  })
  const base = options.rng !== undefined ? options.rng.split() : Rng.seeded(options.seed!)
  const B = prompts.length
  const budget = prompts.map((p) => Math.min(options.maxTokens, blockSize - p.length))
  const capacity = Math.max(...prompts.map((p, i) => p.length + budget[i]!))
  const tokens: number[][] = prompts.map(() => [])
  const logprobs: number[][] = prompts.map(() => [])
  const finish: Rollout.FinishReason[] = prompts.map(() => "length")
  if (options.maxTokens > 0) {
    const rngs = prompts.map((_, i) => base.fold((options.firstRow ?? 0) + i))
    const seqs = prompts.map((p) => {
      const s = new Int32Array(capacity)
      s.set(p)
      return s
    })
    const kind = options.cache ?? "inPlace"
    const source =
      kind === "none"
        ? uncachedSource(policy)
        : cachedSource(
            policy,
            kind === "inPlace"
              ? options.decodeAttention === undefined
                ? KvCache.inPlace(policy.kvLayout, B, capacity)
                : KvCache.inPlaceJs(policy.kvLayout, B, capacity, options.decodeAttention)
              : kind === "concat"
                ? KvCache.concat(policy.kvLayout, B, capacity)
                : kind(policy.kvLayout, B, capacity)
          )
    try {
      const start = Math.min(...prompts.map((p) => p.length))
      let logits = source.start(seqs, start)
      let active = Int32Array.from(prompts.keys())
      const scratch = new Float64Array(V)
      for (let t = start; ; t++) {
        const next: number[] = []
        for (let a = 0; a < active.length; a++) {
          const b = active[a]!
          if (t < prompts[b]!.length) {
            next.push(b) // still reading its prompt
            continue
          }
          const { id, logprob } = pick(logits.subarray(a * V, (a + 1) * V), f, rngs[b]!, scratch)
          seqs[b]![t] = id
          tokens[b]!.push(id)
          logprobs[b]!.push(logprob)
          if (f.stop.has(id)) finish[b] = "stop"
          else if (tokens[b]!.length < budget[b]!) next.push(b)
        }
        if (next.length === 0) break
        active = Int32Array.from(next)
        logits = source.step(seqs, active, t)
      }
    } finally {
      source.dispose()
    }
  }
  return prompts.map((_, i) => ({
    tokens: Int32Array.from(tokens[i]!),
    logprobs: Float32Array.from(logprobs[i]!),
    finishReason: finish[i]!
  }))
}
