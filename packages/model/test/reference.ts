/**
 * A naive float64 GPT forward, written from the equations and independent of tfjs: the reference
 * the tf model is checked against (one row at a time, no batching, no padding, no cache).
 */
import type { GptConfig } from "../src/Gpt.js"

export type Weights = ReadonlyMap<string, Float32Array>

const matvec = (x: Float64Array, W: Float32Array, inDim: number, outDim: number, b?: Float32Array): Float64Array => {
  const y = new Float64Array(outDim)
  for (let o = 0; o < outDim; o++) {
    let s = b === undefined ? 0 : b[o]!
    for (let i = 0; i < inDim; i++) s += x[i]! * W[i * outDim + o]!
    y[o] = s
  }
  return y
}

const layerNorm = (x: Float64Array, g: Float32Array, b: Float32Array | undefined, eps: number): Float64Array => {
  const n = x.length
  let mean = 0
  for (const v of x) mean += v / n
  let variance = 0
  for (const v of x) variance += (v - mean) ** 2 / n
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * g[i]! + (b === undefined ? 0 : b[i]!))
}

/** Logits (T, V) of one unpadded row. */
export const referenceLogits = (c: GptConfig, w: Weights, tokens: ArrayLike<number>): Float64Array[] => {
  const C = c.nEmbd
  const H = c.nHead
  const hd = C / H
  const M = c.mlpRatio * C
  const T = tokens.length
  const get = (n: string) => w.get(n)!
  const opt = (n: string) => (c.bias ? w.get(n) : undefined)
  const wte = get("transformer.wte.weight")
  const wpe = get("transformer.wpe.weight")
  let xs: Float64Array[] = Array.from({ length: T }, (_, t) => {
    const x = new Float64Array(C)
    for (let i = 0; i < C; i++) x[i] = wte[tokens[t]! * C + i]! + wpe[t * C + i]!
    return x
  })
  for (let l = 0; l < c.nLayer; l++) {
    const p = `transformer.h.${l}`
    const hs = xs.map((x) => layerNorm(x, get(`${p}.ln_1.weight`), opt(`${p}.ln_1.bias`), c.layerNormEps))
    const lin = (name: string, x: Float64Array, i: number, o: number) => matvec(x, get(`${name}.weight`), i, o, opt(`${name}.bias`))
    const q = hs.map((h) => lin(`${p}.attn.c_q`, h, C, C))
    const k = hs.map((h) => lin(`${p}.attn.c_k`, h, C, C))
    const v = hs.map((h) => lin(`${p}.attn.c_v`, h, C, C))
    const ys = xs.map((_, t) => {
      const y = new Float64Array(C)
      for (let h = 0; h < H; h++) {
        const scores: number[] = []
        for (let s = 0; s <= t; s++) {
          let dot = 0
          for (let d = 0; d < hd; d++) dot += q[t]![h * hd + d]! * k[s]![h * hd + d]!
          scores.push(dot / Math.sqrt(hd))
        }
        const max = Math.max(...scores)
        const e = scores.map((z) => Math.exp(z - max))
        const total = e.reduce((a, b) => a + b, 0)
        for (let s = 0; s <= t; s++) for (let d = 0; d < hd; d++) y[h * hd + d]! += (e[s]! / total) * v[s]![h * hd + d]!
      }
      return y
    })
    xs = xs.map((x, t) => x.map((xi, i) => xi + lin(`${p}.attn.c_proj`, ys[t]!, C, C)[i]!))
    xs = xs.map((x) => {
      const h = layerNorm(x, get(`${p}.ln_2.weight`), opt(`${p}.ln_2.bias`), c.layerNormEps)
      const a = lin(`${p}.mlp.c_fc`, h, C, M).map((z) => z / (1 + Math.exp(-1.702 * z)))
      const out = lin(`${p}.mlp.c_proj`, a, M, C)
      return x.map((xi, i) => xi + out[i]!)
    })
  }
  return xs.map((x) => {
    const h = layerNorm(x, get("transformer.ln_f.weight"), opt("transformer.ln_f.bias"), c.layerNormEps)
    const logits = new Float64Array(c.vocabSize)
    for (let vv = 0; vv < c.vocabSize; vv++) {
      let s = 0
      for (let i = 0; i < C; i++) s += h[i]! * wte[vv * C + i]!
      logits[vv] = s
    }
    return logits
  })
}

/** log p(tokens[t+1] | tokens[0..t]) for t = 0..T-2, from the reference logits. */
export const referenceTokenLogprobs = (c: GptConfig, w: Weights, tokens: ArrayLike<number>): number[] => {
  const logits = referenceLogits(c, w, tokens)
  const out: number[] = []
  for (let t = 0; t + 1 < tokens.length; t++) {
    const z = logits[t]!
    const max = Math.max(...z)
    const lse = max + Math.log(z.reduce((a, b) => a + Math.exp(b - max), 0))
    out.push(z[tokens[t + 1]!]! - lse)
  }
  return out
}
