import { beforeAll, describe, expect, it } from "vitest"
import { Engine } from "@duet/engine"
import fc from "fast-check"
import * as tf from "@tensorflow/tfjs-core"
import { InvalidArgumentError, Rng } from "@duet/core"
import * as KvCache from "../src/KvCache.js"
import * as Sampler from "../src/Sampler.js"
import "./backend.js"
import { randomPolicy, randomTokens, tinyConfig, weightsOf } from "./helpers.js"
import { referenceLogits } from "./reference.js"

fc.configureGlobal({ seed: 42, numRuns: 12 })

const V = tinyConfig.vocabSize
const policy = randomPolicy(tinyConfig, 11, 0.5)

describe("samplingWeights (hand-computed)", () => {
  const logits = Float32Array.from([2, 1, 1, 0, -1])
  const f = { temperature: 1, topP: 1, topK: 0 }
  it("no filter: exp(logit - max)", () => {
    expect(Array.from(Sampler.samplingWeights(logits, f))).toEqual([1, Math.exp(-1), Math.exp(-1), Math.exp(-2), Math.exp(-3)])
  })
  it("temperature divides the logits", () => {
    expect(Sampler.samplingWeights(logits, { ...f, temperature: 2 })[3]).toBeCloseTo(Math.exp(-1), 15)
  })
  it("top-k keeps the k largest and every tie with the k-th", () => {
    expect(Array.from(Sampler.samplingWeights(logits, { ...f, topK: 1 }))).toEqual([1, 0, 0, 0, 0])
    // k = 2: the 2nd largest is 1, tied at ids 1 and 2, so three survive
    expect(Array.from(Sampler.samplingWeights(logits, { ...f, topK: 2 })).map((x) => x > 0)).toEqual([true, true, true, false, false])
  })
  it("top-p keeps the smallest most-likely set whose mass reaches p", () => {
    // probabilities: 1/Z, e^-1/Z (x2), e^-2/Z, e^-3/Z with Z = 1 + 2e^-1 + e^-2 + e^-3 = 1.9209: 0.521, 0.191, 0.191, 0.070, 0.026
    const keep = (p: number) => Array.from(Sampler.samplingWeights(logits, { ...f, topP: p })).filter((x) => x > 0).length
    expect(keep(0.5)).toBe(1) // 0.521 >= 0.5
    expect(keep(0.6)).toBe(2) // 0.521 + 0.191 = 0.712
    expect(keep(0.8)).toBe(3) // 0.904
    expect(keep(0.95)).toBe(4) // 0.974
    expect(keep(1)).toBe(5)
  })
})

const prompts = [Int32Array.from([1, 4, 5]), Int32Array.from([1, 2, 3, 4, 5, 6]), Int32Array.from([1])]

describe.each(["duet", "stock"] as const)("Sampler.sample cache paths (%s kernels)", (kernels) => {
  beforeAll(async () => {
    await Engine.init({ backend: "wasm", kernels })
  })
  it("KV-cache sampling equals uncached sampling with the same seed (tokens, reasons; log-probs to float32 rounding)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.constantFrom(0, 0.7, 1, 1.5),
        fc.constantFrom(0, 3),
        fc.constantFrom(1, 0.8),
        (seed, temperature, topK, topP) => {
          const opts = { maxTokens: 8, temperature, topK, topP, stopTokens: [2], seed }
          const ref = Sampler.sample(policy, prompts, { ...opts, cache: "none" })
          const factory = (c: KvCache.KvLayout, b: number, cap: number) => KvCache.inPlaceJs(c, b, cap)
          for (const cache of ["inPlace", "concat", factory] as const) {
            const got = Sampler.sample(policy, prompts, { ...opts, cache })
            got.forEach((g, i) => {
              expect(Array.from(g.tokens)).toEqual(Array.from(ref[i]!.tokens))
              expect(g.finishReason).toBe(ref[i]!.finishReason)
              // same math, different summation order in float32: |diff| <= ~1e-5; 1e-4 margin
              g.logprobs.forEach((lp, j) => expect(Math.abs(lp - ref[i]!.logprobs[j]!)).toBeLessThan(1e-4))
            })
          }
        }
      )
    )
  })

})

describe("Sampler.sample firstRow", () => {
  it("a list sampled in chunks with firstRow draws what one call over all of it draws", () => {
    const rng = Rng.seeded(5)
    const prompts = Array.from({ length: 5 }, (_, i) => randomTokens(rng, 2 + (i % 3), V))
    const opts = { maxTokens: 6, temperature: 1, seed: 9, cache: "none" as const }
    const all = Sampler.sample(policy, prompts, opts).map((c) => Array.from(c.tokens))
    const chunked = [...Sampler.sample(policy, prompts.slice(0, 2), opts), ...Sampler.sample(policy, prompts.slice(2), { ...opts, firstRow: 2 })].map((c) => Array.from(c.tokens))
    expect(chunked).toEqual(all)
    // without it the second chunk restarts the streams
    const restarted = Sampler.sample(policy, prompts.slice(2), opts).map((c) => Array.from(c.tokens))
    expect(restarted).not.toEqual(all.slice(2))
    expect(() => Sampler.sample(policy, prompts, { ...opts, firstRow: -1 })).toThrow(/firstRow/)
  })
})

describe("Sampler.sample", () => {
  beforeAll(async () => {
    await Engine.init({ backend: "wasm" })
  })
  it("reports the policy's temperature-1 log-probs (float64 reference), whatever the sampling filters", () => {
    const out = Sampler.sample(policy, [prompts[0]!], { maxTokens: 5, temperature: 0.5, topK: 2, seed: 4 })[0]!
    const w = weightsOf(policy)
    const row = [...prompts[0]!, ...out.tokens]
    const logits = referenceLogits(tinyConfig, w, row)
    out.tokens.forEach((id, j) => {
      const z = logits[prompts[0]!.length - 1 + j]!
      const max = Math.max(...z)
      const lse = max + Math.log(z.reduce((a, b) => a + Math.exp(b - max), 0))
      expect(Math.abs(out.logprobs[j]! - (z[id]! - lse))).toBeLessThan(1e-4)
    })
  })

  it("temperature 0 is greedy: each token is the argmax of the reference logits", () => {
    const out = Sampler.sample(policy, [prompts[1]!], { maxTokens: 6, temperature: 0, seed: 0 })[0]!
    const row = [...prompts[1]!, ...out.tokens]
    const logits = referenceLogits(tinyConfig, weightsOf(policy), row)
    out.tokens.forEach((id, j) => {
      const z = Array.from(logits[prompts[1]!.length - 1 + j]!)
      expect(id).toBe(z.indexOf(Math.max(...z)))
    })
  })

  it("same seed, same completions; another seed differs", () => {
    const a = Sampler.sample(policy, prompts, { maxTokens: 10, seed: 1 })
    const b = Sampler.sample(policy, prompts, { maxTokens: 10, seed: 1 })
    const c = Sampler.sample(policy, prompts, { maxTokens: 10, seed: 2 })
    expect(a.map((x) => Array.from(x.tokens))).toEqual(b.map((x) => Array.from(x.tokens)))
    expect(a.map((x) => Array.from(x.tokens))).not.toEqual(c.map((x) => Array.from(x.tokens)))
  })

  it("an rng argument advances, so two calls draw differently but reproducibly", () => {
    const r1 = Rng.seeded(5)
    const r2 = Rng.seeded(5)
    const first = Sampler.sample(policy, prompts, { maxTokens: 6, rng: r1 })
    const again = Sampler.sample(policy, prompts, { maxTokens: 6, rng: r2 })
    const second = Sampler.sample(policy, prompts, { maxTokens: 6, rng: r1 })
    expect(first.map((x) => Array.from(x.tokens))).toEqual(again.map((x) => Array.from(x.tokens)))
    expect(first.map((x) => Array.from(x.tokens))).not.toEqual(second.map((x) => Array.from(x.tokens)))
  })

  it("finish reasons: a stop token ends the row and is kept; otherwise maxTokens or the context length", () => {
    const all = Array.from({ length: V }, (_, i) => i)
    const stopped = Sampler.sample(policy, prompts, { maxTokens: 5, seed: 3, stopTokens: all })
    for (const s of stopped) {
      expect(s.finishReason).toBe("stop")
      expect(s.tokens.length).toBe(1)
      expect(s.logprobs.length).toBe(1)
    }
    const long = Sampler.sample(policy, prompts, { maxTokens: 5, seed: 3 })
    long.forEach((s) => {
      expect(s.finishReason).toBe("length")
      expect(s.tokens.length).toBe(5)
    })
    // blockSize 16: a 6-token prompt has room for 10
    const capped = Sampler.sample(policy, [prompts[1]!], { maxTokens: 50, seed: 3 })[0]!
    expect(capped.tokens.length).toBe(tinyConfig.blockSize - prompts[1]!.length)
    expect(capped.finishReason).toBe("length")
    const none = Sampler.sample(policy, prompts, { maxTokens: 0, seed: 3 })
    expect(none.every((s) => s.tokens.length === 0 && s.finishReason === "length")).toBe(true)
  })

  it("top-k = 1 samples the greedy tokens", () => {
    const greedy = Sampler.sample(policy, prompts, { maxTokens: 6, temperature: 0, seed: 0 })
    const k1 = Sampler.sample(policy, prompts, { maxTokens: 6, topK: 1, seed: 99 })
    expect(k1.map((x) => Array.from(x.tokens))).toEqual(greedy.map((x) => Array.from(x.tokens)))
  })

  it("draws tokens with the softmax probabilities (Hoeffding bound, union over V)", () => {
    // One-token completions of one prompt, n = 2000 rows: each row draws from the same distribution
    // with its own stream. Each empirical frequency is within t = sqrt(ln(2V/delta) / 2n) of its
    // probability with probability >= 1 - delta (Hoeffding + union bound), delta = 1e-6: t = 0.0479.
    const n = 2000
    const prompt = Int32Array.from([1, 7])
    const out = Sampler.sample(policy, Array.from({ length: n }, () => prompt), { maxTokens: 1, seed: 17 })
    const z = referenceLogits(tinyConfig, weightsOf(policy), prompt)[1]!
    const max = Math.max(...z)
    const total = z.reduce((a, b) => a + Math.exp(b - max), 0)
    const counts = new Array<number>(V).fill(0)
    for (const o of out) counts[o.tokens[0]!]!++
    const t = Math.sqrt(Math.log((2 * V) / 1e-6) / (2 * n))
    counts.forEach((c, v) => expect(Math.abs(c / n - Math.exp(z[v]! - max) / total)).toBeLessThan(t))
  })

  it("rejects bad options and prompts, naming the field", () => {
    expect(() => Sampler.sample(policy, prompts, { maxTokens: 3 })).toThrow(InvalidArgumentError)
    expect(() => Sampler.sample(policy, prompts, { maxTokens: 3, seed: 1, topP: 0 })).toThrow(/topP/)
    expect(() => Sampler.sample(policy, prompts, { maxTokens: 3, seed: 1, temperature: -1 })).toThrow(/temperature/)
    expect(() => Sampler.sample(policy, prompts, { maxTokens: 3, seed: 1, stopTokens: [V] })).toThrow(/stopTokens\[0\]/)
    expect(() => Sampler.sample(policy, [new Int32Array(0)], { maxTokens: 3, seed: 1 })).toThrow(/prompts\[0\]/)
    expect(() => Sampler.sample(policy, [Int32Array.from([1, V])], { maxTokens: 3, seed: 1 })).toThrow(/prompts\[0\]\[1\]/)
    expect(() => Sampler.sample(policy, [new Int32Array(tinyConfig.blockSize)], { maxTokens: 3, seed: 1 })).toThrow(/blockSize/)
  })

  it("leaks no tensors", () => {
    const before = tf.memory().numTensors
    for (const cache of ["inPlace", "concat", "none"] as const) Sampler.sample(policy, prompts, { maxTokens: 6, seed: 1, cache })
    expect(tf.memory().numTensors).toBe(before)
  })

  it("random prompts of random lengths: every row is its own prompt continued (lockstep prefill is exact)", () => {
    // a row sampled inside a batch equals the same row sampled alone (greedy, so no draw differs)
    const rng = Rng.seeded(8)
    const rows = Array.from({ length: 5 }, () => randomTokens(rng, 1 + rng.int(8), V))
    const batch = Sampler.sample(policy, rows, { maxTokens: 5, temperature: 0, seed: 0 })
    rows.forEach((r, i) => {
      const alone = Sampler.sample(policy, [r], { maxTokens: 5, temperature: 0, seed: 0 })[0]!
      expect(Array.from(batch[i]!.tokens)).toEqual(Array.from(alone.tokens))
    })
  })
})
