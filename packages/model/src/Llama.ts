/**
 * The Llama decoder family in one file, after HF transformers' `modeling_llama.py`,
 * `modeling_qwen2.py` and `modeling_qwen3.py` (Touvron et al. 2023; Qwen2 and Qwen3 technical
 * reports): config as plain data, parameters under their HF names, the full forward, token log-probs
 * and the one-token decode step the sampler runs on a KV cache.
 *
 * One block: x += o_proj(attn(rope(q), rope(k), v)) over input_layernorm(x), then
 * x += down_proj(silu(gate_proj(h)) * up_proj(h)) over post_attention_layernorm(x); RMSNorm
 * (Zhang & Sennrich 2019) everywhere. The three families differ only in flags:
 * - Llama: optional biases (`attention_bias` on q/k/v/o, `mlp_bias`), rope_scaling "llama3".
 * - Qwen2: biases on q, k, v (not o).
 * - Qwen3: RMSNorm of each q and k head before RoPE (`q_norm`, `k_norm`) and an explicit head_dim
 *   (heads x head_dim may differ from hidden_size).
 *
 * Conventions:
 * - Linear weights are HF's (out, in), so a layer is `x @ W^T` (the engine's matmul takes the
 *   transpose natively) and checkpoints load and save without copies or renames.
 * - Grouped-query attention: k and v have `numKeyValueHeads` heads; each is repeated for the
 *   `numAttentionHeads / numKeyValueHeads` query heads that share it (HF `repeat_kv`) right after
 *   the projection, so attention and the KV cache see one k, v per query head.
 * - RoPE is HF's "rotate_half" form (NeoX): dims i and i + hd/2 rotate together.
 * - Batches are right padded and start at position 0 (as Gpt.ts): no attention mask beyond causal.
 */
import { InvalidArgumentError, Rng } from "@duet/core"
import { causalSelfAttention, splitHeads } from "./internal/Attention.js"
import { Ops, gatherHasGradient, oneHot, tf } from "./internal/Tfjs.js"
import type { KvCache, KvLayout } from "./KvCache.js"
import * as PolicyInterface from "./Policy.js"

export type Family = "llama" | "qwen2" | "qwen3"

/** RoPE frequency scaling: none, linear (positions / factor) or Llama 3.1's wavelength-banded one. */
export type RopeScaling =
  | { readonly type: "default" }
  | { readonly type: "linear"; readonly factor: number }
  | {
      readonly type: "llama3"
      readonly factor: number
      readonly lowFreqFactor: number
      readonly highFreqFactor: number
      readonly originalMaxPositionEmbeddings: number
    }

export interface LlamaConfig {
  /** config.json `model_type`; decides the defaults HF applies and the names `Hf.save` writes back. */
  readonly family: Family
  readonly vocabSize: number
  /** `max_position_embeddings`: the most positions a row may use. */
  readonly blockSize: number
  /** `hidden_size` D. */
  readonly hiddenSize: number
  /** `intermediate_size`: the SwiGLU width. */
  readonly intermediateSize: number
  readonly numLayers: number
  readonly numAttentionHeads: number
  /** < numAttentionHeads for grouped-query attention; must divide it. */
  readonly numKeyValueHeads: number
  /** Per-head width (default hiddenSize / numAttentionHeads; Qwen3 sets it explicitly). */
  readonly headDim: number
  readonly rmsNormEps: number
  readonly ropeTheta: number
  readonly ropeScaling: RopeScaling
  /** lm_head shares model.embed_tokens.weight (no lm_head.weight tensor). */
  readonly tieWordEmbeddings: boolean
  /** Biases on q_proj, k_proj, v_proj (Qwen2: always; Llama/Qwen3: `attention_bias`). */
  readonly qkvBias: boolean
  /** Bias on o_proj (Llama/Qwen3: `attention_bias`; Qwen2: never). */
  readonly oBias: boolean
  /** Biases on gate/up/down_proj (Llama `mlp_bias`). */
  readonly mlpBias: boolean
  /** Per-head RMSNorm of q and k before RoPE (Qwen3). */
  readonly qkNorm: boolean
}

const positiveInt = (field: string, x: unknown): void => {
  if (typeof x !== "number" || !Number.isInteger(x) || x < 1) throw new InvalidArgumentError(`LlamaConfig.${field}`, `must be a positive integer, got ${String(x)}`)
}

/** A checked config (throws InvalidArgumentError naming the field). */
export const makeConfig = (c: LlamaConfig): LlamaConfig => {
  for (const f of ["vocabSize", "blockSize", "hiddenSize", "intermediateSize", "numLayers", "numAttentionHeads", "numKeyValueHeads", "headDim"] as const) positiveInt(f, c[f])
  if (c.numAttentionHeads % c.numKeyValueHeads !== 0) {
    throw new InvalidArgumentError("LlamaConfig.numKeyValueHeads", `must divide numAttentionHeads (${c.numAttentionHeads}), got ${c.numKeyValueHeads}`)
  }
  if (c.headDim % 2 !== 0) throw new InvalidArgumentError("LlamaConfig.headDim", `must be even for RoPE, got ${c.headDim}`)
  if (!(c.rmsNormEps > 0)) throw new InvalidArgumentError("LlamaConfig.rmsNormEps", `must be > 0, got ${c.rmsNormEps}`)
  if (!(c.ropeTheta > 0)) throw new InvalidArgumentError("LlamaConfig.ropeTheta", `must be > 0, got ${c.ropeTheta}`)
  return c
}

/** Every parameter's HF name and shape, in HF's order. */
export const parameterShapes = (c: LlamaConfig): Array<readonly [string, number[]]> => {
  const D = c.hiddenSize
  const qDim = c.numAttentionHeads * c.headDim
  const kvDim = c.numKeyValueHeads * c.headDim
  const out: Array<readonly [string, number[]]> = [["model.embed_tokens.weight", [c.vocabSize, D]]]
  const linear = (name: string, i: number, o: number, bias: boolean) => {
    out.push([`${name}.weight`, [o, i]])
    if (bias) out.push([`${name}.bias`, [o]])
  }
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}`
    out.push([`${p}.input_layernorm.weight`, [D]])
    linear(`${p}.self_attn.q_proj`, D, qDim, c.qkvBias)
    linear(`${p}.self_attn.k_proj`, D, kvDim, c.qkvBias)
    linear(`${p}.self_attn.v_proj`, D, kvDim, c.qkvBias)
    linear(`${p}.self_attn.o_proj`, qDim, D, c.oBias)
    if (c.qkNorm) out.push([`${p}.self_attn.q_norm.weight`, [c.headDim]], [`${p}.self_attn.k_norm.weight`, [c.headDim]])
    out.push([`${p}.post_attention_layernorm.weight`, [D]])
    linear(`${p}.mlp.gate_proj`, D, c.intermediateSize, c.mlpBias)
    linear(`${p}.mlp.up_proj`, D, c.intermediateSize, c.mlpBias)
    linear(`${p}.mlp.down_proj`, c.intermediateSize, D, c.mlpBias)
  }
  out.push(["model.norm.weight", [D]])
  if (!c.tieWordEmbeddings) out.push(["lm_head.weight", [c.vocabSize, D]])
  return out
}

/** Number of parameters (tied embeddings counted once). */
export const parameterCount = (c: LlamaConfig): number =>
  parameterShapes(c).reduce((n, [, shape]) => n + shape.reduce((a, b) => a * b, 1), 0)

/**
 * RoPE inverse frequencies (hd/2): theta^(-2i/hd), then the config's scaling. "llama3" (HF
 * `_compute_llama3_parameters`): wavelengths above originalMax / lowFreqFactor are divided by
 * `factor`, those below originalMax / highFreqFactor kept, the band between interpolated smoothly.
 */
export const inverseFrequencies = (c: Pick<LlamaConfig, "headDim" | "ropeTheta" | "ropeScaling">): Float64Array => {
  const half = c.headDim / 2
  const inv = Float64Array.from({ length: half }, (_, i) => 1 / Math.pow(c.ropeTheta, (2 * i) / c.headDim))
  const s = c.ropeScaling
  if (s.type === "linear") for (let i = 0; i < half; i++) inv[i] = inv[i]! / s.factor
  if (s.type === "llama3") {
    const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor
    const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i]!
      if (wavelen > lowWavelen) inv[i] = inv[i]! / s.factor
      else if (wavelen >= highWavelen) {
        const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor)
        inv[i] = (1 - smooth) * (inv[i]! / s.factor) + smooth * inv[i]!
      }
    }
  }
  return inv
}

/**
 * cos and sin tables (T, hd) for positions start..start+T-1, HF layout: angle j and j + hd/2 equal
 * (`emb = cat(freqs, freqs)`). Angles in float32 as HF computes them.
 */
const ropeTables = (inv: Float64Array, start: number, T: number): { cos: Float32Array; sin: Float32Array } => {
  const half = inv.length
  const hd = 2 * half
  const inv32 = Float32Array.from(inv)
  const cos = new Float32Array(T * hd)
  const sin = new Float32Array(T * hd)
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround((start + t) * inv32[i]!)
      cos[t * hd + i] = cos[t * hd + i + half] = Math.cos(angle)
      sin[t * hd + i] = sin[t * hd + i + half] = Math.sin(angle)
    }
  }
  return { cos, sin }
}

/** R (hd, hd) with x @ R = rotate_half(x) = cat(-x2, x1): one small GEMM instead of slices and a concat. */
const rotateHalfMatrices = new Map<number, Float32Array>()
const rotateHalfMatrix = (hd: number): tf.Tensor2D => {
  let r = rotateHalfMatrices.get(hd)
  if (r === undefined) {
    r = new Float32Array(hd * hd)
    const half = hd / 2
    for (let i = 0; i < half; i++) {
      r[(i + half) * hd + i] = -1 // out[i] = -x[i + half]
      r[i * hd + i + half] = 1 // out[i + half] = x[i]
    }
    rotateHalfMatrices.set(hd, r)
  }
  return tf.tensor2d(r, [hd, hd])
}

/** A Llama-family model with its parameters. Methods return new tensors the caller disposes (or runs inside tf.tidy). */
export class Policy implements PolicyInterface.Policy<LlamaConfig> {
  private readonly invFreq: Float64Array
  private readonly layerNames = new Map<number, string[]>()

  constructor(
    readonly config: LlamaConfig,
    /** Parameters by HF name (see `parameterShapes`); trainable, so `tf.variableGrads` sees them. */
    readonly params: ReadonlyMap<string, tf.Variable>
  ) {
    makeConfig(config)
    const shapes = parameterShapes(config)
    for (const [name, shape] of shapes) {
      const p = params.get(name)
      if (p === undefined) throw new InvalidArgumentError(`params.${name}`, "missing")
      if (p.shape.join(",") !== shape.join(",")) throw new InvalidArgumentError(`params.${name}`, `shape [${p.shape}] != expected [${shape}]`)
    }
    if (params.size !== shapes.length) {
      const known = new Set(shapes.map(([n]) => n))
      throw new InvalidArgumentError("params", `unexpected parameters: ${[...params.keys()].filter((n) => !known.has(n)).join(", ")}`)
    }
    this.invFreq = inverseFrequencies(config)
  }

  /** The KV cache holds one k, v per query head (GQA heads repeated). */
  get kvLayout(): KvLayout {
    const c = this.config
    return { layers: c.numLayers, heads: c.numAttentionHeads, headDim: c.headDim, blockSize: c.blockSize }
  }

  private p(name: string): tf.Variable {
    return this.params.get(name)!
  }

  /** x (N, in) @ W^T (+ b) with W (out, in) -> (N, out). */
  private linear(x: tf.Tensor, name: string, bias: boolean): tf.Tensor2D {
    const y = tf.matMul(x as tf.Tensor2D, this.p(`${name}.weight`), false, true)
    return (bias ? tf.add(y, this.p(`${name}.bias`)) : y) as tf.Tensor2D
  }

  /** RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * w. x (..., C), w (C). */
  private rmsNorm(x: tf.Tensor, name: string): tf.Tensor {
    const ms = tf.mean(tf.square(x), -1, true)
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, this.config.rmsNormEps))), this.p(`${name}.weight`))
  }

  /**
   * Token embeddings of flat ids (N) -> (N, D). Differentiable: a gather whose gradient is one
   * UnsortedSegmentSum into (V, D) (tfjs's own gather gradient adds a transpose and an identity copy
   * of the whole table, 2 x 108 MiB at V = 49152, D = 576); oneHot(ids) @ E where that kernel is missing.
   */
  private embed(ids: tf.Tensor1D, differentiable: boolean): tf.Tensor2D {
    const e = this.p("model.embed_tokens.weight")
    if (!differentiable) return tf.gather(e, ids) as tf.Tensor2D
    if (!gatherHasGradient()) return tf.matMul(oneHot(ids, this.config.vocabSize), e)
    const V = this.config.vocabSize
    const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const table = args[0] as tf.Tensor
      ;(args[1] as tf.GradSaveFunc)([ids]) // kept until the backward pass (the caller's tidy may free `ids`)
      return {
        value: tf.gather(table, ids) as tf.Tensor2D,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => tf.unsortedSegmentSum(dy as tf.Tensor, saved[0] as tf.Tensor1D, V)
      }
    }) as (table: tf.Tensor) => tf.Tensor2D
    return f(e)
  }

  /** (N, D) -> logits (N, V) through lm_head (or the tied embedding). */
  private head(x: tf.Tensor): tf.Tensor2D {
    const w = this.config.tieWordEmbeddings ? this.p("model.embed_tokens.weight") : this.p("lm_head.weight")
    return tf.matMul(x as tf.Tensor2D, w, false, true)
  }

  private mlp(h: tf.Tensor, l: number): tf.Tensor {
    const m = `model.layers.${l}.mlp`
    const b = this.config.mlpBias
    const gate = this.linear(h, `${m}.gate_proj`, b)
    const up = this.linear(h, `${m}.up_proj`, b)
    return this.linear(tf.mul(tf.mul(gate, tf.sigmoid(gate)), up), `${m}.down_proj`, b) // SwiGLU: silu(gate) * up
  }

  /**
   * q, k, v of one layer for N rows (N = B*T, position-major within a row) with RoPE applied:
   * q scaled by 1/sqrt(hd) and k, v repeated to every query head; each (N, H*hd), heads side by side.
   * `cos`, `sin` are (N, 1, hd) or broadcastable to (N, H, hd).
   */
  private qkv(h: tf.Tensor, l: number, cos: tf.Tensor, sin: tf.Tensor): { q: tf.Tensor2D; k: tf.Tensor2D; v: tf.Tensor2D } {
    const c = this.config
    const a = `model.layers.${l}.self_attn`
    const N = h.shape[0]!
    const H = c.numAttentionHeads
    const Hkv = c.numKeyValueHeads
    const hd = c.headDim
    const R = rotateHalfMatrix(hd)
    const rope = (x: tf.Tensor, heads: number, norm: string | undefined): tf.Tensor => {
      let t = tf.reshape(x, [N, heads, hd]) // (N, heads, hd)
      if (norm !== undefined) t = this.rmsNorm(t, norm) // Qwen3: per-head RMSNorm before RoPE
      const rotated = tf.reshape(tf.matMul(tf.reshape(t, [N * heads, hd]), R), [N, heads, hd])
      return tf.add(tf.mul(t, cos), tf.mul(rotated, sin)) // (N, heads, hd)
    }
    // repeat_kv: kv head g serves query heads g*rep .. g*rep + rep - 1
    const repeat = (t: tf.Tensor): tf.Tensor2D => {
      const rep = H / Hkv
      if (rep === 1) return tf.reshape(t, [N, H * hd])
      return tf.reshape(tf.tile(tf.reshape(t, [N, Hkv, 1, hd]), [1, 1, rep, 1]), [N, H * hd]) // (N, Hkv, rep, hd) -> (N, H*hd)
    }
    const q = rope(this.linear(h, `${a}.q_proj`, c.qkvBias), H, c.qkNorm ? `${a}.q_norm` : undefined)
    const k = rope(this.linear(h, `${a}.k_proj`, c.qkvBias), Hkv, c.qkNorm ? `${a}.k_norm` : undefined)
    const v = this.linear(h, `${a}.v_proj`, c.qkvBias)
    return { q: tf.reshape(tf.mul(q, 1 / Math.sqrt(hd)), [N, H * hd]), k: repeat(k), v: repeat(v) }
  }

  /** tokens (B, T) -> final hidden states (B*T, D); `onKv` sees each layer's k and v, (B, H, T, hd). */
  private hidden(tokens: tf.Tensor2D, onKv?: (layer: number, k: tf.Tensor4D, v: tf.Tensor4D) => void): tf.Tensor {
    const [B, T] = tokens.shape
    const c = this.config
    const H = c.numAttentionHeads
    const hd = c.headDim
    if (T > c.blockSize) throw new InvalidArgumentError("tokens", `length ${T} exceeds blockSize ${c.blockSize}`)
    const tables = ropeTables(this.invFreq, 0, T)
    // (B*T, 1, hd): row b*T + t is position t
    const cos = tf.reshape(tf.tile(tf.tensor2d(tables.cos, [T, hd]), [B, 1]), [B * T, 1, hd])
    const sin = tf.reshape(tf.tile(tf.tensor2d(tables.sin, [T, hd]), [B, 1]), [B * T, 1, hd])
    const x = this.embed(tf.reshape(tokens, [B * T]), onKv === undefined) // (B*T, D)
    return this.layers(x, cos, sin, onKv === undefined, (l, q, k, v) => {
      const kh = splitHeads(k, B, T, H, hd) // (B, H, T, hd)
      const vh = splitHeads(v, B, T, H, hd)
      onKv?.(l, kh, vh)
      return causalSelfAttention(splitHeads(q, B, T, H, hd), kh, vh) // (B*T, H*hd)
    })
  }

  /**
   * Packed rows (no padding; see `Policy.buildPackedBatch`): ids and positions (N), sequence r at
   * rows starts[r]..starts[r+1]-1 -> final hidden states (N, D), attention by `Ops.packedAttention`.
   */
  private hiddenPacked(ids: tf.Tensor1D, positions: tf.Tensor1D, starts: ReadonlyArray<number>): tf.Tensor2D {
    const N = ids.shape[0]
    const hd = this.config.headDim
    const T = Math.max(1, ...starts.slice(1).map((s, r) => s - starts[r]!))
    const tables = ropeTables(this.invFreq, 0, T)
    const cos = tf.reshape(tf.gather(tf.tensor2d(tables.cos, [T, hd]), positions), [N, 1, hd]) // row i: its position's angles
    const sin = tf.reshape(tf.gather(tf.tensor2d(tables.sin, [T, hd]), positions), [N, 1, hd])
    const x = this.embed(ids, true)
    return this.layers(x, cos, sin, true, (_, q, k, v) => Ops.packedAttention(q, k, v, starts, this.config.numAttentionHeads)) as tf.Tensor2D
  }

  /**
   * The decoder layers and the final RMSNorm on (N, D) rows with their RoPE angles (N, 1, hd);
   * `attend(layer, q, k, v)` (each (N, H*hd), q scaled, k and v repeated to every head) -> (N, H*hd).
   * `checkpoint`: each layer under activation checkpointing (training); else one tidy per layer.
   */
  private layers(
    x: tf.Tensor,
    cos: tf.Tensor,
    sin: tf.Tensor,
    checkpoint: boolean,
    attend: (layer: number, q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.Tensor
  ): tf.Tensor {
    const c = this.config
    const block = (l: number, x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor => {
      const p = `model.layers.${l}`
      const { q, k, v } = this.qkv(this.rmsNorm(x, `${p}.input_layernorm`), l, cos, sin) // (N, H*hd) each
      const h = tf.add(x, this.linear(attend(l, q, k, v), `${p}.self_attn.o_proj`, c.oBias))
      return tf.add(h, this.mlp(this.rmsNorm(h, `${p}.post_attention_layernorm`), l))
    }
    for (let l = 0; l < c.numLayers; l++) {
      if (checkpoint) x = this.checkpointed(l, x, cos, sin, block)
      else {
        // Prefill (no tape): one tidy per block, so only the residual stream outlives a layer.
        // Under the caller's single tidy every layer's intermediates stayed until the end, ~2.5 MB
        // per prompt token at 135M: a 200-row SFT probe of 14-token prompts overflowed the 4 GiB heap.
        const input = x
        x = tf.tidy(() => block(l, input, cos, sin))
        input.dispose()
      }
    }
    return this.rmsNorm(x, "model.norm")
  }

  /**
   * `block(l, x)` with activation checkpointing: under a gradient tape only the block's input
   * (N, D) is kept, and the backward pass recomputes the block's forward to differentiate it (one
   * more forward per step; the same ops, so the same gradients). Without it tfjs keeps every
   * intermediate activation and every intermediate gradient of all layers until the step ends,
   * ~250 KB per token per layer at 135M scale. Outside a tape it is the plain forward.
   */
  private checkpointed(l: number, x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor, block: (l: number, x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor) => tf.Tensor): tf.Tensor {
    const names = this.layerParamNames(l)
    const weights = names.map((n) => this.p(n))
    const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const save = args[args.length - 1] as tf.GradSaveFunc
      const input = args[0] as tf.Tensor
      save([input, cos, sin]) // the RoPE tables too: the caller's tidy frees them before the backward pass
      return {
        value: tf.tidy(() => block(l, input, cos, sin)),
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          // the weights are the Variables `block` reads, so differentiating by them reaches its uses
          const g = tf.grads((xin: tf.Tensor, ..._ws: tf.Tensor[]) => block(l, xin, saved[1]!, saved[2]!))
          // This runs inside the outer backward pass, where tfjs's gradient depth is back at 0: a
          // nested tf.grads takes itself for the outermost and drops the engine's tape when done,
          // which the outer pass still needs (it disposes the tape's saved tensors at its end).
          const engine = tf.engine() as unknown as { state: { activeTape: unknown } }
          const outer = engine.state.activeTape
          try {
            return g([saved[0]!, ...weights], dy as tf.Tensor)
          } finally {
            engine.state.activeTape = outer
          }
        }
      }
    }) as (...inputs: tf.Tensor[]) => tf.Tensor
    return f(x, ...weights)
  }

  /** The parameters one block reads, in `parameterShapes` order. */
  private layerParamNames(l: number): string[] {
    let names = this.layerNames.get(l)
    if (names === undefined) {
      const prefix = `model.layers.${l}.`
      names = [...this.params.keys()].filter((n) => n.startsWith(prefix))
      this.layerNames.set(l, names)
    }
    return names
  }

  /** tokens int32 (B, T) -> logits (B, T, V). */
  logits(tokens: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T] = tokens.shape
      return tf.reshape(this.head(this.hidden(tokens)), [B, T, this.config.vocabSize])
    })
  }

  /** log p(targets[b, t] | tokens[b, 0..t]) as (B, T). Differentiable. */
  tokenLogprobs(tokens: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor2D {
    if (tokens.shape.join(",") !== targets.shape.join(",")) {
      throw new InvalidArgumentError("targets", `shape [${targets.shape}] != tokens shape [${tokens.shape}]`)
    }
    return tf.tidy(() => {
      const [B, T] = tokens.shape
      const picked = pickLogprobs(this.head(this.hidden(tokens)), tf.reshape(targets, [B * T]) as tf.Tensor1D) // (B*T)
      return tf.reshape(picked, [B, T])
    })
  }

  /** See `Policy.completionLogprobs`: (B, Tc) log-probs of each completion token, and its mask. */
  sequenceLogprobs(prompts: ReadonlyArray<Int32Array>, completions: ReadonlyArray<Int32Array>): { logprobs: tf.Tensor2D; mask: tf.Tensor2D } {
    return PolicyInterface.sequenceLogprobs(this, prompts, completions, {
      hidden: (ids, positions, starts) => this.hiddenPacked(ids, positions, starts),
      logits: (h) => this.head(h)
    })
  }

  /** Runs tokens (B, T) from position 0, writes every layer's k, v into `cache`; logits of the last position (B, V). */
  prefill(tokens: tf.Tensor2D, cache: KvCache): tf.Tensor2D {
    return tf.tidy(() => {
      const [B, T] = tokens.shape
      const D = this.config.hiddenSize
      const x = this.hidden(tokens, (l, k, v) => cache.prefill(l, k, v)) // (B*T, D)
      return this.head(tf.reshape(tf.slice(tf.reshape(x, [B, T, D]), [0, T - 1, 0], [B, 1, D]), [B, D]))
    })
  }

  /** One decode step: `tokens[i]` is row `rows[i]`'s token at `position`. Returns logits (rows, V). */
  decodeStep(tokens: Int32Array, rows: Int32Array, position: number, cache: KvCache): tf.Tensor2D {
    const c = this.config
    if (position >= c.blockSize) throw new InvalidArgumentError("position", `${position} >= blockSize ${c.blockSize}`)
    return tf.tidy(() => {
      const tables = ropeTables(this.invFreq, position, 1)
      const cos = tf.tensor3d(tables.cos, [1, 1, c.headDim])
      const sin = tf.tensor3d(tables.sin, [1, 1, c.headDim])
      let x: tf.Tensor = this.embed(tf.tensor1d(tokens, "int32"), false) // (N, D)
      for (let l = 0; l < c.numLayers; l++) {
        const p = `model.layers.${l}`
        const { q, k, v } = this.qkv(this.rmsNorm(x, `${p}.input_layernorm`), l, cos, sin) // (N, H*hd)
        const y = cache.attend(l, q, k, v, rows, position) // (N, H*hd)
        x = tf.add(x, this.linear(y, `${p}.self_attn.o_proj`, c.oBias))
        x = tf.add(x, this.mlp(this.rmsNorm(x, `${p}.post_attention_layernorm`), l))
      }
      return this.head(this.rmsNorm(x, "model.norm"))
    })
  }

  lossAndGrads(loss: () => tf.Scalar): { value: tf.Scalar; grads: Map<string, tf.Tensor> } {
    return PolicyInterface.lossAndGrads(this.params, loss)
  }

  /** A new model of this config from named tensors (`fromParams`). */
  withParams(tensors: ReadonlyMap<string, tf.Tensor>): Policy {
    return fromParams(this.config, tensors)
  }

  /** Frees the parameters. */
  dispose(): void {
    for (const p of this.params.values()) p.dispose()
  }
}

/**
 * log-softmax(logits)[n, targets[n]] (N) from logits (N, V), differentiable, without keeping (N, V)
 * intermediates: the forward is logits[n, t_n] - logsumexp(logits[n]) (a gather and one transient
 * exp), and the gradient (onehot(t_n) - softmax(logits[n])) * dy[n] is built in the backward pass
 * from the logits themselves. tfjs's logSoftmax . oneHot keeps ~7 (N, V) tensors alive until the
 * step ends (~200 KB per token each at V = 49152).
 */
export const pickLogprobs = (logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D => {
  const [N, V] = logits.shape
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x = args[0] as tf.Tensor
    const save = args[1] as tf.GradSaveFunc
    const lse = tf.tidy(() => {
      const m = tf.max(x, -1, true) // (N, 1)
      return tf.add(m, tf.log(tf.sum(tf.exp(tf.sub(x, m)), -1, true))) // (N, 1)
    })
    const value = tf.tidy(() => {
      const flat = tf.add(tf.mul(tf.range(0, N, 1, "int32"), tf.scalar(V, "int32")), targets) // n * V + t_n
      return tf.sub(tf.gather(tf.reshape(x, [N * V]), flat), tf.reshape(lse, [N])) // (N)
    })
    save([x, lse, targets])
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xs, l, t] = saved as [tf.Tensor, tf.Tensor, tf.Tensor1D]
          const d = tf.reshape(dy as tf.Tensor, [N, 1])
          return tf.mul(tf.sub(oneHot(t, V), tf.exp(tf.sub(xs, l))), d) // (N, V)
        })
    }
  }) as (x: tf.Tensor) => tf.Tensor1D
  return f(logits)
}

/**
 * A freshly initialised model, as HF `_init_weights`: Linear and embedding weights ~ N(0, initStd)
 * (HF `initializer_range`, 0.02), biases 0, norm gains 1. Seeded, so the same on every backend.
 */
export const init = (config: LlamaConfig, seed: number | Rng, initStd = 0.02): Policy => {
  const c = makeConfig(config)
  const rng = typeof seed === "number" ? Rng.seeded(seed) : seed
  const params = new Map<string, tf.Variable>()
  for (const [name, shape] of parameterShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1)
    const data = new Float32Array(n)
    if (/norm\.weight$/.test(name)) data.fill(1)
    else if (name.endsWith(".weight")) for (let i = 0; i < n; i++) data[i] = initStd * rng.normal()
    const initial = tf.tensor(data, shape, "float32")
    params.set(name, tf.variable(initial, true))
    initial.dispose()
  }
  return new Policy(c, params)
}

/** A model from named tensors (e.g. a loaded checkpoint); copies them into new float32 Variables. */
export const fromParams = (config: LlamaConfig, tensors: ReadonlyMap<string, tf.Tensor>): Policy => {
  const params = new Map<string, tf.Variable>()
  const add = (name: string, t: tf.Tensor) => {
    const f = t.dtype === "float32" ? t : tf.cast(t, "float32")
    params.set(name, tf.variable(f, true))
    if (f !== t) f.dispose()
  }
  // Canonical order (`parameterShapes`), whatever order a file listed them in: AdamW's global
  // gradient norm sums in this order, so a resumed run computes exactly what the uninterrupted one did.
  for (const [name] of parameterShapes(makeConfig(config))) {
    const t = tensors.get(name)
    if (t !== undefined) add(name, t)
  }
  for (const [name, t] of tensors) if (!params.has(name)) add(name, t)
  try {
    return new Policy(config, params)
  } catch (e) {
    for (const p of params.values()) p.dispose()
    throw e
  }
}
