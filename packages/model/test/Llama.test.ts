/**
 * The Llama family's tensor code beyond parity: causal mask, gradients (finite differences and SFT
 * steps through sequenceLogprobs), no tensor leaks, and the llama3 RoPE scaling by hand.
 */
import { describe, expect, it } from "vitest"
import * as tf from "@tensorflow/tfjs-core"
import { Rng } from "@duet/core"
import * as AdamW from "../src/AdamW.js"
import * as Llama from "../src/Llama.js"
import * as Policies from "../src/Policy.js"
import * as Sampler from "../src/Sampler.js"
import "./backend.js"
import { randomTokens } from "./helpers.js"

/** Tiny configs of each family: GQA 2:1, Qwen2 biases, Qwen3 q/k norms with heads x headDim != hidden. */
const base = {
  vocabSize: 13,
  blockSize: 16,
  hiddenSize: 16,
  intermediateSize: 24,
  numLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  headDim: 4,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  ropeScaling: { type: "default" } as Llama.RopeScaling,
  tieWordEmbeddings: false,
  qkvBias: false,
  oBias: false,
  mlpBias: false,
  qkNorm: false
}
const configs: Record<string, Llama.LlamaConfig> = {
  llama: Llama.makeConfig({ ...base, family: "llama" }),
  qwen2: Llama.makeConfig({ ...base, family: "qwen2", qkvBias: true, tieWordEmbeddings: true }),
  qwen3: Llama.makeConfig({ ...base, family: "qwen3", qkNorm: true, headDim: 8 })
}

/** Every parameter random (gains near 1), so no term is trivial. */
const randomPolicy = (c: Llama.LlamaConfig, seed: number): Llama.Policy => {
  const rng = Rng.seeded(seed)
  const tensors = new Map<string, tf.Tensor>()
  for (const [name, shape] of Llama.parameterShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1)
    const gain = /norm\.weight$/.test(name) ? 1 : 0
    tensors.set(name, tf.tensor(Float32Array.from({ length: n }, () => gain + 0.3 * rng.normal()), shape))
  }
  const p = Llama.fromParams(c, tensors)
  tf.dispose([...tensors.values()])
  return p
}

describe.each(Object.keys(configs))("%s", (family) => {
  const config = configs[family]!

  it("is causal: changing token t+1 leaves logits at <= t unchanged", () => {
    const policy = randomPolicy(config, 1)
    const rng = Rng.seeded(2)
    const a = randomTokens(rng, 10, config.vocabSize)
    const b = Int32Array.from(a)
    b[6] = (b[6]! + 1) % config.vocabSize
    const la = policy.logits(tf.tensor2d(a, [1, 10], "int32")).arraySync()[0]!
    const lb = policy.logits(tf.tensor2d(b, [1, 10], "int32")).arraySync()[0]!
    for (let t = 0; t < 6; t++) expect(lb[t]).toEqual(la[t])
    expect(lb[6]).not.toEqual(la[6])
    policy.dispose()
  })

  it("sequenceLogprobs (packed rows, fused attention where the addon is) has the padded form's value and gradients", () => {
    const policy = randomPolicy(config, 5)
    const rng = Rng.seeded(6)
    const shapes = [[3, 4], [1, 0], [6, 7], [2, 1]] as const
    const prompts = shapes.map(([p]) => randomTokens(rng, p, config.vocabSize))
    const completions = shapes.map(([, c]) => randomTokens(rng, c, config.vocabSize))
    const weights = tf.tensor2d(Array.from({ length: shapes.length * 7 }, () => rng.normal()), [shapes.length, 7])
    const run = (f: () => { logprobs: tf.Tensor2D; mask: tf.Tensor2D }) => {
      const { value, grads } = policy.lossAndGrads(() => tf.tidy(() => tf.sum(tf.mul(tf.mul(f().logprobs, f().mask), weights)) as tf.Scalar))
      const out = { value: value.dataSync()[0]!, grads: new Map([...grads].map(([n, g]) => [n, g.dataSync().slice()])) }
      tf.dispose([value, ...grads.values()])
      return out
    }
    const packed = run(() => policy.sequenceLogprobs(prompts, completions))
    const padded = run(() => Policies.completionLogprobs(policy, prompts, completions))
    expect(Math.abs(packed.value - padded.value)).toBeLessThan(1e-4 * (1 + Math.abs(padded.value)))
    const scale = Math.max(...[...padded.grads.values()].map((g) => Math.max(...Array.from(g, Math.abs))))
    for (const [name, g] of packed.grads) {
      const want = padded.grads.get(name)!
      g.forEach((x, i) => expect(Math.abs(x - want[i]!) <= 1e-5 * scale + 1e-4 * Math.abs(want[i]!), `${name}[${i}]: ${x} vs ${want[i]}`).toBe(true))
    }
    weights.dispose()
    policy.dispose()
  })

  it("gradient matches central finite differences in a few coordinates", () => {
    const policy = randomPolicy(config, 3)
    const rng = Rng.seeded(4)
    const prompts = [randomTokens(rng, 3, config.vocabSize), randomTokens(rng, 5, config.vocabSize)]
    const completions = [randomTokens(rng, 4, config.vocabSize), randomTokens(rng, 2, config.vocabSize)]
    const loss = () =>
      tf.tidy(() => {
        const { logprobs, mask } = policy.sequenceLogprobs(prompts, completions)
        return tf.neg(tf.div(tf.sum(tf.mul(logprobs, mask)), tf.sum(mask))) as tf.Scalar
      })
    const { value, grads } = policy.lossAndGrads(loss)
    value.dispose()
    expect(grads.size).toBe(policy.params.size)
    const names = ["model.layers.0.self_attn.k_proj.weight", "model.layers.1.mlp.gate_proj.weight", "model.embed_tokens.weight", "model.norm.weight"]
    if (config.qkNorm) names.push("model.layers.0.self_attn.q_norm.weight")
    if (config.qkvBias) names.push("model.layers.1.self_attn.v_proj.bias")
    for (const name of names) {
      const p = policy.params.get(name)!
      const g = grads.get(name)!.dataSync()
      const data = Float32Array.from(p.dataSync())
      let i = 0
      for (let j = 0; j < g.length; j++) if (Math.abs(g[j]!) > Math.abs(g[i]!)) i = j // the largest coordinate
      const h = 1e-2
      const at = (x: number) => {
        const d = Float32Array.from(data)
        d[i] = x
        p.assign(tf.tensor(d, p.shape))
        const l = loss()
        const v = l.dataSync()[0]!
        l.dispose()
        return v
      }
      const fd = (at(data[i]! + h) - at(data[i]! - h)) / (2 * h)
      p.assign(tf.tensor(data, p.shape))
      expect(Math.abs(fd - g[i]!), name).toBeLessThan(2e-2 * Math.max(1, Math.abs(g[i]!)))
    }
    tf.dispose([...grads.values()])
    policy.dispose()
  })

  it("a few SFT steps through sequenceLogprobs lower the completion NLL; no tensor leaks", () => {
    const policy = Llama.init(config, 5)
    const rng = Rng.seeded(6)
    const prompts = Array.from({ length: 4 }, () => randomTokens(rng, 4, config.vocabSize))
    const completions = Array.from({ length: 4 }, () => randomTokens(rng, 6, config.vocabSize))
    const opt = AdamW.makeConfig({ lr: 1e-2, weightDecay: 0 })
    const state = AdamW.init(policy.params)
    const step = () => {
      const { value, grads } = policy.lossAndGrads(() => {
        const { logprobs, mask } = policy.sequenceLogprobs(prompts, completions)
        return tf.neg(tf.div(tf.sum(tf.mul(logprobs, mask)), tf.sum(mask))) as tf.Scalar
      })
      AdamW.apply(policy.params, grads, state, opt)
      const v = value.dataSync()[0]!
      tf.dispose([value, ...grads.values()])
      return v
    }
    const first = step()
    expect(Math.abs(first - Math.log(config.vocabSize))).toBeLessThan(0.1) // init near uniform
    const before = tf.memory().numTensors
    let loss = first
    for (let i = 0; i < 20; i++) loss = step()
    expect(tf.memory().numTensors).toBe(before)
    expect(loss).toBeLessThan(0.5 * first)
    // and the trained policy still samples (KV cache) without leaking
    const out = Sampler.sample(policy, prompts, { maxTokens: 6, temperature: 0, seed: 1 })
    expect(out.map((c) => c.tokens.length)).toEqual([6, 6, 6, 6])
    expect(tf.memory().numTensors).toBe(before)
    AdamW.dispose(state)
    policy.dispose()
  })
})

describe("RoPE", () => {
  it("llama3 scaling by hand: high frequencies kept, low divided by factor, the band between interpolated", () => {
    // headDim 4: inv = theta^(-2i/4) = [1, theta^-0.5]; originalMax 64, low 1, high 4 -> wavelengths
    // below 16 kept, above 64 divided by the factor, in between interpolated
    const scaling: Llama.RopeScaling = { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 }
    const band = Llama.inverseFrequencies({ headDim: 4, ropeTheta: 100, ropeScaling: scaling }) // [1, 0.1]: wavelengths 6.28, 62.8
    expect(band[0]).toBeCloseTo(1, 12)
    const s = (64 / (2 * Math.PI * 10) - 1) / (4 - 1)
    expect(band[1]).toBeCloseTo((1 - s) * (0.1 / 8) + s * 0.1, 12)
    const low = Llama.inverseFrequencies({ headDim: 4, ropeTheta: 10000, ropeScaling: scaling }) // [1, 0.01]: wavelength 628
    expect(low[1]).toBeCloseTo(0.01 / 8, 12)
    expect(Llama.inverseFrequencies({ headDim: 4, ropeTheta: 10000, ropeScaling: { type: "default" } })[1]).toBeCloseTo(0.01, 12)
  })
})
