/**
 * The benchmark workload: a GPT with @duet/model's layout (pre-LayerNorm blocks, learned
 * positions, tied embeddings, q/k/v as three matrices, activations folded to (B*T, C) around each
 * dense layer, attention on (B, H, T, hd)), at the reference size V=32, T=64, L=4, H=4, C=128
 * (0.81M parameters). Engine can not depend on the model package, so this is a compact copy of
 * its forward, its training step and its KV-cache decode loop, in two flavours:
 * - "stock": the ops a model must use on stock tfjs-wasm (composite LayerNorm and sigmoid-GELU,
 *   oneHot(ids) @ wte embedding because gather has no gradient there, composite AdamW, decode
 *   over a concat-grown cache);
 * - "fused": duet's Ops (fused LayerNorm, GELU), gather, fused AdamW, DecodeCache.
 */
import * as tf from "@tensorflow/tfjs"
import type { Tensor, Tensor1D, Tensor2D, Tensor4D, Variable } from "@tensorflow/tfjs"
import * as AdamW from "../AdamW.js"
import * as DecodeCache from "../DecodeCache.js"
import * as Ops from "../Ops.js"

export interface GptSize {
  readonly vocab: number
  readonly block: number
  readonly layers: number
  readonly heads: number
  readonly embd: number
}

export const referenceSize: GptSize = { vocab: 32, block: 64, layers: 4, heads: 4, embd: 128 }

export type Flavour = "stock" | "fused"

const gaussian = (n: number, std: number, seed: number): Float32Array => {
  let s = seed >>> 0 || 1
  const next = () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return (s + 0.5) / 4294967296
  }
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = std * Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next())
  return out
}

export class BenchGpt {
  readonly params = new Map<string, Variable>()

  constructor(readonly size: GptSize, seed = 1) {
    const { vocab: V, block: T, layers: L, embd: C } = size
    let k = seed
    const add = (name: string, shape: number[], kind: "w" | "zero" | "one") => {
      const n = shape.reduce((a, b) => a * b, 1)
      const data = kind === "w" ? gaussian(n, 0.02, k++) : new Float32Array(n).fill(kind === "one" ? 1 : 0)
      const t = tf.tensor(data, shape)
      this.params.set(name, tf.variable(t, true, `bench.${name}.${seed}.${Math.random()}`))
      t.dispose()
    }
    add("wte.weight", [V, C], "w")
    add("wpe.weight", [T, C], "w")
    for (let l = 0; l < L; l++) {
      add(`h${l}.ln_1.weight`, [C], "one")
      add(`h${l}.ln_1.bias`, [C], "zero")
      for (const m of ["c_q", "c_k", "c_v", "c_proj"]) {
        add(`h${l}.attn.${m}.weight`, [C, C], "w")
        add(`h${l}.attn.${m}.bias`, [C], "zero")
      }
      add(`h${l}.ln_2.weight`, [C], "one")
      add(`h${l}.ln_2.bias`, [C], "zero")
      add(`h${l}.mlp.c_fc.weight`, [C, 4 * C], "w")
      add(`h${l}.mlp.c_fc.bias`, [4 * C], "zero")
      add(`h${l}.mlp.c_proj.weight`, [4 * C, C], "w")
      add(`h${l}.mlp.c_proj.bias`, [C], "zero")
    }
    add("ln_f.weight", [C], "one")
    add("ln_f.bias", [C], "zero")
  }

  parameterCount(): number {
    let n = 0
    for (const p of this.params.values()) n += p.size
    return n
  }

  private p(name: string): Variable {
    return this.params.get(name)!
  }

  private linear(x: Tensor2D, name: string): Tensor2D {
    return tf.add(tf.matMul(x, this.p(`${name}.weight`)), this.p(`${name}.bias`))
  }

  private norm(x: Tensor2D, name: string, flavour: Flavour): Tensor2D {
    const g = this.p(`${name}.weight`) as Tensor1D
    const b = this.p(`${name}.bias`) as Tensor1D
    if (flavour === "fused") return Ops.layerNorm(x, g, b, 1e-5)
    const mean = tf.mean(x, -1, true)
    const centered = tf.sub(x, mean)
    const variance = tf.mean(tf.square(centered), -1, true)
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, 1e-5))), g), b)
  }

  private gelu(x: Tensor2D, flavour: Flavour): Tensor2D {
    return flavour === "fused" ? Ops.gelu(x, "sigmoid") : tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)))
  }

  private embed(ids: Tensor1D, flavour: Flavour): Tensor2D {
    const wte = this.p("wte.weight")
    if (flavour === "fused") return tf.gather(wte, ids) as Tensor2D
    return tf.matMul(tf.cast(tf.oneHot(ids, this.size.vocab), "float32"), wte)
  }

  /** tokens (B, T) int32 -> final hidden states (B*T, C). */
  hidden(tokens: Tensor2D, flavour: Flavour): Tensor2D {
    const [B, T] = tokens.shape
    const { heads: H, embd: C } = this.size
    const hd = C / H
    const mask = tf.tensor2d(
      Float32Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0)),
      [T, T]
    )
    const heads = (t: Tensor2D) => tf.transpose(tf.reshape(t, [B, T, H, hd]), [0, 2, 1, 3]) as Tensor4D
    const pos = tf.slice(this.p("wpe.weight"), [0, 0], [T, C])
    let x = tf.reshape(tf.add(tf.reshape(this.embed(tf.reshape(tokens, [B * T]) as Tensor1D, flavour), [B, T, C]), pos), [B * T, C]) as Tensor2D
    for (let l = 0; l < this.size.layers; l++) {
      const a = `h${l}.attn`
      const h = this.norm(x, `h${l}.ln_1`, flavour)
      const q = heads(tf.mul(this.linear(h, `${a}.c_q`), 1 / Math.sqrt(hd)))
      const k = heads(this.linear(h, `${a}.c_k`))
      const v = heads(this.linear(h, `${a}.c_v`))
      const att = tf.softmax(tf.add(tf.matMul(q, k, false, true), mask))
      const y = tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [B * T, C]) as Tensor2D
      x = tf.add(x, this.linear(y, `${a}.c_proj`))
      const m = this.linear(this.gelu(this.linear(this.norm(x, `h${l}.ln_2`, flavour), `h${l}.mlp.c_fc`), flavour), `h${l}.mlp.c_proj`)
      x = tf.add(x, m)
    }
    return this.norm(x, "ln_f", flavour)
  }

  /** Mean next-token cross-entropy of (B, T) tokens against (B, T) targets. */
  loss(tokens: Tensor2D, targets: Tensor2D, flavour: Flavour): tf.Scalar {
    const [B, T] = tokens.shape
    const logits = tf.matMul(this.hidden(tokens, flavour), this.p("wte.weight"), false, true) // (B*T, V)
    const logp = tf.logSoftmax(logits)
    const picked = tf.sum(tf.mul(logp, tf.cast(tf.oneHot(tf.reshape(targets, [B * T]) as Tensor1D, this.size.vocab), "float32")), -1)
    return tf.neg(tf.mean(picked)) as tf.Scalar
  }

  /** One training step: loss, gradients, AdamW (fused or composite). Returns the loss. */
  trainStep(tokens: Tensor2D, targets: Tensor2D, flavour: Flavour, state: AdamW.AdamWState): number {
    const vars = [...this.params.values()]
    const { value, grads } = tf.variableGrads(() => this.loss(tokens, targets, flavour), vars)
    const byName = new Map<string, Tensor>()
    for (const [name, p] of this.params) byName.set(name, grads[p.name]!)
    AdamW.apply(this.params, byName, state, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 })
    const loss = value.dataSync()[0]!
    tf.dispose([value, ...Object.values(grads)])
    return loss
  }

  /**
   * Greedy decode of `steps` tokens for `batch` rows from a one-token prompt; returns tokens made.
   * "stock": k, v caches grown by concat, attention as batched matmuls; "fused": DecodeCache.
   */
  decode(batch: number, steps: number, flavour: Flavour): number {
    const { heads: H, embd: C, layers: L, block } = this.size
    const hd = C / H
    const n = Math.min(steps, block)
    const rows = Int32Array.from({ length: batch }, (_, i) => i)
    let ids = tf.tensor1d(Int32Array.from({ length: batch }, (_, i) => i % this.size.vocab), "int32")
    const cache = flavour === "fused" ? DecodeCache.make({ layers: L, batch, heads: H, headDim: hd, capacity: n }) : undefined
    let ks: Tensor4D[] = []
    let vs: Tensor4D[] = []
    for (let position = 0; position < n; position++) {
      const next = tf.tidy(() => {
        const pos = tf.slice(this.p("wpe.weight"), [position, 0], [1, C])
        let x = tf.add(tf.gather(this.p("wte.weight"), ids), pos) as Tensor2D // (B, C)
        for (let l = 0; l < L; l++) {
          const a = `h${l}.attn`
          const h = this.norm(x, `h${l}.ln_1`, flavour)
          const q = tf.mul(this.linear(h, `${a}.c_q`), 1 / Math.sqrt(hd)) as Tensor2D
          const k = this.linear(h, `${a}.c_k`)
          const v = this.linear(h, `${a}.c_v`)
          let y: Tensor2D
          if (cache !== undefined) {
            y = cache.attend(l, q, k, v, rows, position)
          } else {
            const split = (t: Tensor2D) => tf.transpose(tf.reshape(t, [batch, 1, H, hd]), [0, 2, 1, 3]) as Tensor4D // (B, H, 1, hd)
            const kNew = split(k)
            const vNew = split(v)
            const kAll = position === 0 ? kNew : (tf.concat([ks[l]!, kNew], 2) as Tensor4D)
            const vAll = position === 0 ? vNew : (tf.concat([vs[l]!, vNew], 2) as Tensor4D)
            tf.keep(kAll)
            tf.keep(vAll)
            if (position > 0) tf.dispose([ks[l]!, vs[l]!])
            ks[l] = kAll
            vs[l] = vAll
            const att = tf.softmax(tf.matMul(split(q), kAll, false, true)) // (B, H, 1, t)
            y = tf.reshape(tf.transpose(tf.matMul(att, vAll), [0, 2, 1, 3]), [batch, C]) as Tensor2D
          }
          x = tf.add(x, this.linear(y, `${a}.c_proj`))
          x = tf.add(x, this.linear(this.gelu(this.linear(this.norm(x, `h${l}.ln_2`, flavour), `h${l}.mlp.c_fc`), flavour), `h${l}.mlp.c_proj`))
        }
        const logits = tf.matMul(this.norm(x, "ln_f", flavour), this.p("wte.weight"), false, true)
        return tf.cast(tf.argMax(logits, -1), "int32") as Tensor1D
      })
      next.dataSync() // the sampler reads every step's tokens
      ids.dispose()
      ids = next
    }
    ids.dispose()
    tf.dispose([...ks, ...vs])
    ks = []
    vs = []
    cache?.dispose()
    return batch * n
  }

  dispose(): void {
    for (const p of this.params.values()) p.dispose()
  }
}
