/**
 * The policy interface: what the sampler, the losses and the trainer call on a model, whatever its
 * architecture. duet's char-level GPT (`Gpt.Policy`) and the Hugging Face decoder families
 * (`Llama.Policy`: Llama, Qwen2, Qwen3) both implement it.
 *
 * `Policy` with no type argument is the GPT's (its `config` is a `GptConfig`), so code written
 * against the GPT keeps type-checking; `Policy<LlamaConfig>` is an HF one; `Policy<ModelConfig>`
 * is any of them.
 */
import { InvalidArgumentError } from "@duet/core"
import type { GptConfig } from "./Gpt.js"
import type { KvCache, KvLayout } from "./KvCache.js"
import { Ops, oneHot, tf } from "./internal/Tfjs.js"

/** What every model config says: token ids are 0..vocabSize-1; a row holds at most blockSize positions. */
export interface ModelConfig {
  readonly vocabSize: number
  readonly blockSize: number
}

export interface Policy<C extends ModelConfig = GptConfig> {
  readonly config: C
  /** Parameters by (HF) name; trainable, so `tf.variableGrads` sees them. */
  readonly params: ReadonlyMap<string, tf.Variable>
  /** The shape of the KV cache decoding needs (layers, heads after any GQA repeat, head width). */
  readonly kvLayout: KvLayout
  /** tokens int32 (B, T) -> logits (B, T, V). */
  logits(tokens: tf.Tensor2D): tf.Tensor3D
  /** log p(targets[b, t] | tokens[b, 0..t]) (B, T). Differentiable. */
  tokenLogprobs(tokens: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor2D
  /** Completion log-probs (B, Tc) and mask (B, Tc); see `completionLogprobs`. Differentiable. */
  sequenceLogprobs(prompts: ReadonlyArray<Int32Array>, completions: ReadonlyArray<Int32Array>): { logprobs: tf.Tensor2D; mask: tf.Tensor2D }
  /** Runs tokens (B, T) from position 0, fills `cache`, returns the last position's logits (B, V). */
  prefill(tokens: tf.Tensor2D, cache: KvCache): tf.Tensor2D
  /** One token per row in `rows` at `position`; returns logits (rows, V). */
  decodeStep(tokens: Int32Array, rows: Int32Array, position: number, cache: KvCache): tf.Tensor2D
  /**
   * A new policy of the same config from named tensors (copied into new Variables): a frozen
   * reference for KL, or a loaded checkpoint. `withParams(policy.params)` is a snapshot.
   */
  withParams(tensors: ReadonlyMap<string, tf.Tensor>): Policy<C>
  /** `loss()` and its gradient per parameter name. */
  lossAndGrads(loss: () => tf.Scalar): { value: tf.Scalar; grads: Map<string, tf.Tensor> }
  dispose(): void
}

/** Checks rows of `prompt ++ completion` against the config: non-empty prompts, ids in the vocabulary, blockSize. */
const checkRows = (prompts: ReadonlyArray<Int32Array>, completions: ReadonlyArray<Int32Array>, config: ModelConfig): void => {
  if (prompts.length !== completions.length) {
    throw new InvalidArgumentError("completions", `${completions.length} rows but ${prompts.length} prompts`)
  }
  if (prompts.length === 0) throw new InvalidArgumentError("prompts", "no rows")
  for (let b = 0; b < prompts.length; b++) {
    const p = prompts[b]!
    const c = completions[b]!
    if (p.length < 1) throw new InvalidArgumentError(`prompts[${b}]`, "is empty (a row needs at least one prompt token, e.g. BOS)")
    if (p.length + c.length > config.blockSize) {
      throw new InvalidArgumentError(`completions[${b}]`, `prompt + completion = ${p.length + c.length} tokens exceeds blockSize ${config.blockSize}`)
    }
    for (const [field, ids] of [[`prompts[${b}]`, p], [`completions[${b}]`, c]] as const) {
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!
        if (!Number.isInteger(id) || id < 0 || id >= config.vocabSize) throw new InvalidArgumentError(`${field}[${i}]`, `token ${id} outside [0, ${config.vocabSize})`)
      }
    }
  }
}

/** The padded arrays `completionLogprobs` feeds the model (exported for tests). */
export const buildCompletionBatch = (
  prompts: ReadonlyArray<Int32Array>,
  completions: ReadonlyArray<Int32Array>,
  config: ModelConfig
): { B: number; T: number; Tc: number; inputs: Int32Array; targets: Int32Array; select: Float32Array; mask: Float32Array } => {
  checkRows(prompts, completions, config)
  const B = prompts.length
  let T = 1
  let Tc = 0
  for (let b = 0; b < B; b++) {
    T = Math.max(T, prompts[b]!.length + completions[b]!.length - 1)
    Tc = Math.max(Tc, completions[b]!.length)
  }
  const inputs = new Int32Array(B * T)
  const targets = new Int32Array(B * T)
  const select = new Float32Array(B * Tc * T)
  const mask = new Float32Array(B * Tc)
  for (let b = 0; b < B; b++) {
    const p = prompts[b]!
    const c = completions[b]!
    const row = new Int32Array(p.length + c.length)
    row.set(p)
    row.set(c, p.length)
    inputs.set(row.subarray(0, row.length - 1), b * T)
    targets.set(row.subarray(1), b * T)
    for (let j = 0; j < c.length; j++) {
      select[(b * Tc + j) * T + p.length - 1 + j] = 1
      mask[b * Tc + j] = 1
    }
  }
  return { B, T, Tc, inputs, targets, select, mask }
}

/**
 * The same rows packed without padding (the layout of flash-attn's varlen kernels): row b's
 * `prompt ++ completion` minus its last token at `starts[b]..starts[b+1]-1` of `ids` (N), with its
 * `positions` from 0. `picks` (M) are the packed rows whose next token is a completion token, and
 * `targets` (M) those tokens, row by row; `slots` (B * Tc) maps completion token (b, j) to its pick,
 * or to M (a zero) past the completion. A row whose completion is empty contributes no rows.
 */
export const buildPackedBatch = (
  prompts: ReadonlyArray<Int32Array>,
  completions: ReadonlyArray<Int32Array>,
  config: ModelConfig
): { B: number; Tc: number; ids: Int32Array; positions: Int32Array; starts: number[]; picks: Int32Array; targets: Int32Array; slots: Int32Array; mask: Float32Array } => {
  checkRows(prompts, completions, config)
  const B = prompts.length
  let N = 0
  let M = 0
  let Tc = 0
  for (let b = 0; b < B; b++) {
    const C = completions[b]!.length
    if (C > 0) N += prompts[b]!.length + C - 1
    M += C
    Tc = Math.max(Tc, C)
  }
  const ids = new Int32Array(N)
  const positions = new Int32Array(N)
  const starts = [0]
  const picks = new Int32Array(M)
  const targets = new Int32Array(M)
  const slots = new Int32Array(B * Tc).fill(M)
  const mask = new Float32Array(B * Tc)
  let n = 0
  let m = 0
  for (let b = 0; b < B; b++) {
    const p = prompts[b]!
    const c = completions[b]!
    if (c.length > 0) {
      ids.set(p, n)
      ids.set(c.subarray(0, c.length - 1), n + p.length)
      for (let t = 0; t < p.length + c.length - 1; t++) positions[n + t] = t
      for (let j = 0; j < c.length; j++, m++) {
        picks[m] = n + p.length - 1 + j
        targets[m] = c[j]!
        slots[b * Tc + j] = m
        mask[b * Tc + j] = 1
      }
      n += p.length + c.length - 1
    }
    starts.push(n)
  }
  return { B, Tc, ids, positions, starts, picks, targets, slots, mask }
}

/**
 * `completionLogprobs` on a packed batch: `hidden(ids, positions, starts)` gives the final hidden
 * states (N, C) of the packed rows, `logits` maps those picked to (M, V). Only completion positions
 * reach the output head. Same result as the padded form up to float rounding.
 */
export const packedCompletionLogprobs = (
  config: ModelConfig,
  prompts: ReadonlyArray<Int32Array>,
  completions: ReadonlyArray<Int32Array>,
  hidden: (ids: tf.Tensor1D, positions: tf.Tensor1D, starts: ReadonlyArray<number>) => tf.Tensor2D,
  logits: (h: tf.Tensor2D) => tf.Tensor2D
): { logprobs: tf.Tensor2D; mask: tf.Tensor2D } => {
  const batch = buildPackedBatch(prompts, completions, config)
  return tf.tidy(() => {
    const { B, Tc } = batch
    const h = hidden(tf.tensor1d(batch.ids, "int32"), tf.tensor1d(batch.positions, "int32"), batch.starts)
    const picked = pickLogprobs(logits(tf.gather(h, tf.tensor1d(batch.picks, "int32"))), tf.tensor1d(batch.targets, "int32")) // (M)
    const withZero = tf.concat([picked, tf.zeros([1])]) // slot M reads 0
    const logprobs = tf.reshape(tf.gather(withZero, tf.tensor1d(batch.slots, "int32")), [B, Tc]) as tf.Tensor2D
    return { logprobs, mask: tf.tensor2d(batch.mask, [B, Tc]) }
  })
}

/**
 * A model's `sequenceLogprobs`: packed rows (`packedCompletionLogprobs` with the model's `hidden`
 * and `logits`) where the engine fuses attention (the addon paths) and some completion is
 * non-empty; the padded `completionLogprobs` otherwise.
 */
export const sequenceLogprobs = (
  policy: Pick<Policy<ModelConfig>, "config" | "tokenLogprobs">,
  prompts: ReadonlyArray<Int32Array>,
  completions: ReadonlyArray<Int32Array>,
  packed: {
    hidden: (ids: tf.Tensor1D, positions: tf.Tensor1D, starts: ReadonlyArray<number>) => tf.Tensor2D
    logits: (h: tf.Tensor2D) => tf.Tensor2D
  }
): { logprobs: tf.Tensor2D; mask: tf.Tensor2D } =>
  !Ops.fused().attention || completions.every((c) => c.length === 0)
    ? completionLogprobs(policy, prompts, completions)
    : packedCompletionLogprobs(policy.config, prompts, completions, packed.hidden, packed.logits)

/**
 * Log-probs of each completion token given its prompt and the completion tokens before it.
 * Rows are `prompt ++ completion`, right padded; the result is aligned at each completion's first
 * token: `logprobs[b, j] = log p(completion_b[j] | prompt_b ++ completion_b[0..j-1])` (B, Tc) with
 * Tc the longest completion, and `mask[b, j] = 1` for j < completion_b.length, else 0 (where the
 * log-prob is 0). Differentiable in the parameters.
 */
export const completionLogprobs = (
  policy: Pick<Policy<ModelConfig>, "config" | "tokenLogprobs">,
  prompts: ReadonlyArray<Int32Array>,
  completions: ReadonlyArray<Int32Array>
): { logprobs: tf.Tensor2D; mask: tf.Tensor2D } => {
  const batch = buildCompletionBatch(prompts, completions, policy.config)
  return tf.tidy(() => {
    const { B, T, Tc } = batch
    const tokens = tf.tensor2d(batch.inputs, [B, T], "int32")
    const targets = tf.tensor2d(batch.targets, [B, T], "int32")
    const lp = policy.tokenLogprobs(tokens, targets) // (B, T)
    // select[b, j, t] = 1 where t = P_b - 1 + j: a sum over t picks completion token j's log-prob
    // without gather (whose gradient is missing on stock wasm).
    const select = tf.tensor3d(batch.select, [B, Tc, T]) // (B, Tc, T)
    const logprobs = tf.sum(tf.mul(select, tf.reshape(lp, [B, 1, T])), -1) as tf.Tensor2D // (B, Tc)
    return { logprobs, mask: tf.tensor2d(batch.mask, [B, Tc]) }
  })
}

/** log-softmax of logits (N, V) read at `targets` (N) -> (N); differentiable. */
export const pickLogprobs = (logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D =>
  tf.sum(tf.mul(tf.logSoftmax(logits), oneHot(targets, logits.shape[1])), -1) as tf.Tensor1D

/** `loss()` and its gradient per parameter name (tf.variableGrads keys by tfjs variable id). */
export const lossAndGrads = (params: ReadonlyMap<string, tf.Variable>, loss: () => tf.Scalar): { value: tf.Scalar; grads: Map<string, tf.Tensor> } => {
  const { value, grads } = tf.variableGrads(loss, [...params.values()])
  const byName = new Map<string, tf.Tensor>()
  for (const [name, p] of params) {
    const g = grads[p.name]
    if (g !== undefined) byName.set(name, g)
  }
  return { value, grads: byName }
}
