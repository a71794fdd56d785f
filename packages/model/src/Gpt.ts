/**
 * The GPT policy in one file, after karpathy/nanoGPT `model.py` (itself GPT-2, Radford et al. 2019):
 * config as plain data, parameters as a named map of `tf.Variable`s, the full forward, per-token
 * log-probs of given completions, and the one-token decode step that sampling runs on a KV cache.
 *
 * Conventions:
 * - Pre-LayerNorm blocks, learned positions, tied input/output embeddings (no `lm_head.weight`).
 * - Linear weights are stored (in, out), like HF GPT-2's `Conv1D`, so a layer is `x @ W + b` on the
 *   fast untransposed GEMM path; q, k and v are three matrices (no SplitV of a fused c_attn).
 * - Batches are RIGHT padded: rows start at position 0 and padding comes last. Attention is causal,
 *   so padding never changes an earlier position's output; no attention mask, no position offsets.
 * - Every 3-D activation is folded to 2-D (B*T, C) around a dense layer; attention runs on
 *   (B, H, T, hd) rank-4 tensors, never a rank-5 qkv (ENGINE-NOTES: both are wasm slow paths).
 */
import { InvalidArgumentError, Rng } from "@duet/core"
import { causalSelfAttention, splitHeads } from "./internal/Attention.js"
import { Ops, gatherHasGradient, gelu, layerNorm, oneHot, tf } from "./internal/Tfjs.js"
import type { KvCache, KvLayout } from "./KvCache.js"
import * as PolicyInterface from "./Policy.js"

export interface GptConfig {
  /** Token ids are 0..vocabSize-1: the tokenizer's `vocabSize`. */
  readonly vocabSize: number
  /** Context length: the most positions a row (prompt + completion) may use. */
  readonly blockSize: number
  /** Transformer blocks. */
  readonly nLayer: number
  /** Attention heads; must divide nEmbd. */
  readonly nHead: number
  /** Residual stream width C. */
  readonly nEmbd: number
  /** MLP hidden width as a multiple of nEmbd (4, as GPT-2). */
  readonly mlpRatio: number
  /** Biases in every Linear and LayerNorm (true, as GPT-2; nanoGPT's `bias`). */
  readonly bias: boolean
  /** LayerNorm epsilon (1e-5, as PyTorch and GPT-2). */
  readonly layerNormEps: number
  /** Std of the normal weight init (0.02, GPT-2); residual projections get initStd / sqrt(2 nLayer). */
  readonly initStd: number
}

/**
 * The reference policy: V=32, T=64, L=4, H=4, C=128 — 0.81M parameters (805,632),
 * the size the engine benchmarks were measured at.
 */
export const defaultConfig: GptConfig = {
  vocabSize: 32,
  blockSize: 64,
  nLayer: 4,
  nHead: 4,
  nEmbd: 128,
  mlpRatio: 4,
  bias: true,
  layerNormEps: 1e-5,
  initStd: 0.02
}

const positiveInt = (field: string, x: unknown): void => {
  if (typeof x !== "number" || !Number.isInteger(x) || x < 1) throw new InvalidArgumentError(`GptConfig.${field}`, `must be a positive integer, got ${String(x)}`)
}

/** A full config from overrides of `defaultConfig`, checked; throws InvalidArgumentError naming the field. */
export const makeConfig = (overrides: Partial<GptConfig> = {}): GptConfig => {
  const c: GptConfig = { ...defaultConfig, ...overrides }
  for (const f of ["vocabSize", "blockSize", "nLayer", "nHead", "nEmbd", "mlpRatio"] as const) positiveInt(f, c[f])
  if (c.nEmbd % c.nHead !== 0) throw new InvalidArgumentError("GptConfig.nHead", `must divide nEmbd (${c.nEmbd}), got ${c.nHead}`)
  if (typeof c.bias !== "boolean") throw new InvalidArgumentError("GptConfig.bias", `must be a boolean, got ${String(c.bias)}`)
  if (!(c.layerNormEps > 0)) throw new InvalidArgumentError("GptConfig.layerNormEps", `must be > 0, got ${c.layerNormEps}`)
  if (!(c.initStd > 0)) throw new InvalidArgumentError("GptConfig.initStd", `must be > 0, got ${c.initStd}`)
  return c
}

/** Every parameter's name and shape, in a fixed order (HF GPT-2 names; attn.c_attn split into c_q/c_k/c_v). */
export const parameterShapes = (c: GptConfig): Array<readonly [string, number[]]> => {
  const C = c.nEmbd
  const Hm = c.mlpRatio * C
  const out: Array<readonly [string, number[]]> = [
    ["transformer.wte.weight", [c.vocabSize, C]],
    ["transformer.wpe.weight", [c.blockSize, C]]
  ]
  const linear = (name: string, i: number, o: number) => {
    out.push([`${name}.weight`, [i, o]])
    if (c.bias) out.push([`${name}.bias`, [o]])
  }
  const ln = (name: string) => {
    out.push([`${name}.weight`, [C]])
    if (c.bias) out.push([`${name}.bias`, [C]])
  }
  for (let l = 0; l < c.nLayer; l++) {
    const h = `transformer.h.${l}`
    ln(`${h}.ln_1`)
    linear(`${h}.attn.c_q`, C, C)
    linear(`${h}.attn.c_k`, C, C)
    linear(`${h}.attn.c_v`, C, C)
    linear(`${h}.attn.c_proj`, C, C)
    ln(`${h}.ln_2`)
    linear(`${h}.mlp.c_fc`, C, Hm)
    linear(`${h}.mlp.c_proj`, Hm, C)
  }
  ln("transformer.ln_f")
  return out
}

/** Number of parameters (tied embeddings counted once). */
export const parameterCount = (c: GptConfig): number =>
  parameterShapes(c).reduce((n, [, shape]) => n + shape.reduce((a, b) => a * b, 1), 0)

/**
 * A GPT with its parameters; implements the `Policy` interface of ./Policy.ts. Methods return new
 * tensors the caller disposes (or runs inside tf.tidy).
 */
export class Policy implements PolicyInterface.Policy<GptConfig> {
  constructor(
    readonly config: GptConfig,
    /** Parameters by name (see `parameterShapes`); trainable, so `tf.variableGrads` sees them. */
    readonly params: ReadonlyMap<string, tf.Variable>
  ) {
    for (const [name, shape] of parameterShapes(config)) {
      const p = params.get(name)
      if (p === undefined) throw new InvalidArgumentError(`params.${name}`, "missing")
      if (p.shape.join(",") !== shape.join(",")) throw new InvalidArgumentError(`params.${name}`, `shape [${p.shape}] != expected [${shape}]`)
    }
    if (params.size !== parameterShapes(config).length) {
      const known = new Set(parameterShapes(config).map(([n]) => n))
      const extra = [...params.keys()].filter((n) => !known.has(n))
      throw new InvalidArgumentError("params", `unexpected parameters: ${extra.join(", ")}`)
    }
  }

  /** The KV cache shape: nLayer x (B, nHead, T, nEmbd / nHead). */
  get kvLayout(): KvLayout {
    const c = this.config
    return { layers: c.nLayer, heads: c.nHead, headDim: c.nEmbd / c.nHead, blockSize: c.blockSize }
  }

  private p(name: string): tf.Variable {
    return this.params.get(name)!
  }

  private linear(x: tf.Tensor, name: string): tf.Tensor {
    const y = tf.matMul(x, this.p(`${name}.weight`))
    return this.config.bias ? tf.add(y, this.p(`${name}.bias`)) : y
  }

  /** `linear` as one kernel (tf.fused.matMul: on duet's engine the GEMM, then the bias added in place; same bits). */
  private linearFused(x: tf.Tensor, name: string): tf.Tensor {
    return tf.fused.matMul({ a: x as tf.Tensor2D, b: this.p(`${name}.weight`) as tf.Tensor2D, ...(this.config.bias ? { bias: this.p(`${name}.bias`) } : {}) })
  }

  private norm(x: tf.Tensor, name: string): tf.Tensor {
    const bias = this.config.bias ? (this.p(`${name}.bias`) as tf.Tensor1D) : undefined
    return layerNorm(x, this.p(`${name}.weight`) as tf.Tensor1D, bias, this.config.layerNormEps)
  }

  /** Token embeddings of flat ids (N) -> (N, C): gather when its gradient exists, else oneHot(ids) @ wte. */
  private embed(ids: tf.Tensor1D, differentiable: boolean): tf.Tensor2D {
    const wte = this.p("transformer.wte.weight")
    if (!differentiable || gatherHasGradient()) return tf.gather(wte, ids) as tf.Tensor2D
    return tf.matMul(oneHot(ids, this.config.vocabSize), wte)
  }

  /** The block's MLP; `fused`: its linears as `linearFused` (decode steps). */
  private mlp(h: tf.Tensor, l: number, fused = false): tf.Tensor {
    const linear = (x: tf.Tensor, name: string) => (fused ? this.linearFused(x, name) : this.linear(x, name))
    return linear(gelu(linear(h, `transformer.h.${l}.mlp.c_fc`)), `transformer.h.${l}.mlp.c_proj`)
  }

  /** tokens (B, T) -> final hidden states (B*T, C); `onKv` sees each layer's k and v, (B, H, T, hd). */
  private hidden(tokens: tf.Tensor2D, onKv?: (layer: number, k: tf.Tensor4D, v: tf.Tensor4D) => void): tf.Tensor {
    const [B, T] = tokens.shape
    const { nEmbd: C, nHead: H, blockSize } = this.config
    const hd = C / H
    if (T > blockSize) throw new InvalidArgumentError("tokens", `length ${T} exceeds blockSize ${blockSize}`)
    const tok = this.embed(tf.reshape(tokens, [B * T]), onKv === undefined) // (B*T, C)
    const pos = tf.slice(this.p("transformer.wpe.weight"), [0, 0], [T, C]) // (T, C)
    const x = tf.reshape(tf.add(tf.reshape(tok, [B, T, C]), pos), [B * T, C]) // (B*T, C)
    const heads = (t: tf.Tensor) => splitHeads(t, B, T, H, hd) // (B, H, T, hd)
    return this.blocks(x, (l, q, k, v) => {
      const [qh, kh, vh] = [heads(q), heads(k), heads(v)]
      onKv?.(l, kh, vh)
      return causalSelfAttention(qh, kh, vh) // (B*T, C)
    })
  }

  /**
   * Packed rows (no padding; see `Policy.buildPackedBatch`): ids and positions (N), sequence r at
   * rows starts[r]..starts[r+1]-1 -> final hidden states (N, C), attention by `Ops.packedAttention`.
   */
  private hiddenPacked(ids: tf.Tensor1D, positions: tf.Tensor1D, starts: ReadonlyArray<number>): tf.Tensor2D {
    const x = tf.add(this.embed(ids, true), tf.gather(this.p("transformer.wpe.weight"), positions)) // (N, C)
    return this.blocks(x, (_, q, k, v) => Ops.packedAttention(q, k, v, starts, this.config.nHead)) as tf.Tensor2D
  }

  /** The transformer blocks and the final LayerNorm on (N, C); `attend(layer, q, k, v)` (each (N, C), q scaled) -> (N, C). */
  private blocks(x: tf.Tensor, attend: (layer: number, q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.Tensor): tf.Tensor {
    const hd = this.config.nEmbd / this.config.nHead
    for (let l = 0; l < this.config.nLayer; l++) {
      const a = `transformer.h.${l}.attn`
      const h = this.norm(x, `transformer.h.${l}.ln_1`)
      const q = tf.mul(this.linear(h, `${a}.c_q`), 1 / Math.sqrt(hd))
      const y = attend(l, q, this.linear(h, `${a}.c_k`), this.linear(h, `${a}.c_v`))
      x = tf.add(x, this.linear(y, `${a}.c_proj`))
      x = tf.add(x, this.mlp(this.norm(x, `transformer.h.${l}.ln_2`), l))
    }
    return this.norm(x, "transformer.ln_f")
  }

  /** Output head tied to the input embedding: (N, C) -> (N, V). */
  private head(x: tf.Tensor): tf.Tensor2D {
    return tf.matMul(x as tf.Tensor2D, this.p("transformer.wte.weight"), false, true)
  }

  /** tokens int32 (B, T) -> logits (B, T, V). */
  logits(tokens: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T] = tokens.shape
      return tf.reshape(this.head(this.hidden(tokens)), [B, T, this.config.vocabSize])
    })
  }

  /**
   * log p(targets[b, t] | tokens[b, 0..t]) as (B, T): the log-softmax of the logits at each position,
   * read at the target id (targets are usually tokens shifted left by one). Differentiable.
   */
  tokenLogprobs(tokens: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor2D {
    if (tokens.shape.join(",") !== targets.shape.join(",")) {
      throw new InvalidArgumentError("targets", `shape [${targets.shape}] != tokens shape [${tokens.shape}]`)
    }
    return tf.tidy(() => {
      const [B, T] = tokens.shape
      const V = this.config.vocabSize
      const logp = tf.logSoftmax(this.head(this.hidden(tokens))) // (B*T, V)
      const picked = tf.sum(tf.mul(logp, oneHot(tf.reshape(targets, [B * T]), V)), -1) // (B*T)
      return tf.reshape(picked, [B, T])
    })
  }

  /**
   * Log-probs of each completion token given its prompt and the completion tokens before it.
   * Rows are `prompt ++ completion`: packed without padding, attention by the fused kernel, where
   * the engine has it (the addon paths); right padded elsewhere. The result is aligned at each completion's first
   * token: `logprobs[b, j] = log p(completion_b[j] | prompt_b ++ completion_b[0..j-1])` (B, Tc) with
   * Tc the longest completion, and `mask[b, j] = 1` for j < completion_b.length, else 0 (where the
   * log-prob is 0). Differentiable in the parameters.
   */
  sequenceLogprobs(
    prompts: ReadonlyArray<Int32Array>,
    completions: ReadonlyArray<Int32Array>
  ): { logprobs: tf.Tensor2D; mask: tf.Tensor2D } {
    return PolicyInterface.sequenceLogprobs(this, prompts, completions, {
      hidden: (ids, positions, starts) => this.hiddenPacked(ids, positions, starts),
      logits: (h) => this.head(h)
    })
  }

  /**
   * Prefill: runs tokens (B, T) through the model, writes every layer's k, v into `cache` at
   * positions 0..T-1, and returns the logits of the last position (B, V).
   */
  prefill(tokens: tf.Tensor2D, cache: KvCache): tf.Tensor2D {
    return tf.tidy(() => {
      const [B, T] = tokens.shape
      const C = this.config.nEmbd
      const x = this.hidden(tokens, (l, k, v) => cache.prefill(l, k, v)) // (B*T, C)
      const last = tf.reshape(tf.slice(tf.reshape(x, [B, T, C]), [0, T - 1, 0], [B, 1, C]), [B, C]) // (B, C)
      return this.head(last)
    })
  }

  /**
   * One decode step: `tokens[i]` is row `rows[i]`'s token at `position`; the cache holds positions
   * 0..position-1 of those rows and receives this position's k, v. Returns logits (rows, V).
   */
  decodeStep(tokens: Int32Array, rows: Int32Array, position: number, cache: KvCache): tf.Tensor2D {
    const { nEmbd: C, blockSize } = this.config
    if (position >= blockSize) throw new InvalidArgumentError("position", `${position} >= blockSize ${blockSize}`)
    return tf.tidy(() => {
      const pos = tf.slice(this.p("transformer.wpe.weight"), [position, 0], [1, C]) // (1, C)
      let x: tf.Tensor = tf.add(this.embed(tf.tensor1d(tokens, "int32"), false), pos) // (N, C)
      for (let l = 0; l < this.config.nLayer; l++) {
        const a = `transformer.h.${l}.attn`
        const h = this.norm(x, `transformer.h.${l}.ln_1`)
        const q = tf.mul(this.linearFused(h, `${a}.c_q`), 1 / Math.sqrt(C / this.config.nHead)) // (N, C), heads side by side
        const y = cache.attend(l, q as tf.Tensor2D, this.linearFused(h, `${a}.c_k`) as tf.Tensor2D, this.linearFused(h, `${a}.c_v`) as tf.Tensor2D, rows, position) // (N, C)
        x = tf.add(x, this.linearFused(y, `${a}.c_proj`))
        x = tf.add(x, this.mlp(this.norm(x, `transformer.h.${l}.ln_2`), l, true))
      }
      return this.head(this.norm(x, "transformer.ln_f"))
    })
  }

  /**
   * `loss()` and its gradient in every parameter, keyed by parameter name (tf.variableGrads keys
   * by tfjs variable id). The caller disposes `value` and the gradients.
   */
  lossAndGrads(loss: () => tf.Scalar): { value: tf.Scalar; grads: Map<string, tf.Tensor> } {
    return PolicyInterface.lossAndGrads(this.params, loss)
  }

  /** A new GPT of this config from named tensors (`fromParams`). */
  withParams(tensors: ReadonlyMap<string, tf.Tensor>): Policy {
    return fromParams(this.config, tensors)
  }

  /** Frees the parameters. */
  dispose(): void {
    for (const p of this.params.values()) p.dispose()
  }
}

/** The padded arrays `sequenceLogprobs` feeds the model (exported for tests). */
export const buildCompletionBatch = (prompts: ReadonlyArray<Int32Array>, completions: ReadonlyArray<Int32Array>, config: GptConfig) =>
  PolicyInterface.buildCompletionBatch(prompts, completions, config)

/**
 * A freshly initialised policy (GPT-2 init as in nanoGPT `_init_weights`): weights ~ N(0, initStd),
 * residual projections (`c_proj`) ~ N(0, initStd / sqrt(2 nLayer)), biases 0, LayerNorm gains 1.
 * Draws come from the seeded `Rng`, so the same seed gives the same weights on every backend.
 */
export const init = (config: GptConfig, seed: number | Rng): Policy => {
  const c = makeConfig(config)
  const rng = typeof seed === "number" ? Rng.seeded(seed) : seed
  const params = new Map<string, tf.Variable>()
  for (const [name, shape] of parameterShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1)
    const data = new Float32Array(n)
    const isNorm = /\.ln_\d\.|\.ln_f\./.test(name)
    if (isNorm && name.endsWith(".weight")) data.fill(1)
    else if (name.endsWith(".weight")) {
      const std = name.endsWith("c_proj.weight") ? c.initStd / Math.sqrt(2 * c.nLayer) : c.initStd
      for (let i = 0; i < n; i++) data[i] = std * rng.normal()
    }
    const initial = tf.tensor(data, shape, "float32")
    params.set(name, tf.variable(initial, true))
    initial.dispose()
  }
  return new Policy(c, params)
}

/** A policy from named tensors (e.g. a loaded checkpoint); copies them into new Variables. */
export const fromParams = (config: GptConfig, tensors: ReadonlyMap<string, tf.Tensor>): Policy => {
  const c = makeConfig(config)
  // Parameters in the canonical order of `parameterShapes` (a loaded file lists them sorted): the
  // optimizer's global norm sums in this order, so a resumed run computes exactly what the
  // uninterrupted one did.
  const params = new Map<string, tf.Variable>()
  for (const [name] of parameterShapes(c)) {
    const t = tensors.get(name)
    if (t !== undefined) params.set(name, tf.variable(t, true))
  }
  for (const [name, t] of tensors) if (!params.has(name)) params.set(name, tf.variable(t, true))
  try {
    return new Policy(c, params)
  } catch (e) {
    for (const p of params.values()) p.dispose()
    throw e
  }
}
