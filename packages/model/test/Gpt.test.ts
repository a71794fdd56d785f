import { beforeAll, describe, expect, it } from "vitest"
import { Engine } from "@duet/engine"
import fc from "fast-check"
import * as tf from "@tensorflow/tfjs-core"
import { InvalidArgumentError, Rng } from "@duet/core"
import * as Gpt from "../src/Gpt.js"
import * as Policies from "../src/Policy.js"
import "./backend.js"
import { randomPolicy, randomTokens, tinyConfig, weightsOf } from "./helpers.js"
import { referenceLogits, referenceTokenLogprobs } from "./reference.js"

fc.configureGlobal({ seed: 42, numRuns: 20 })

// float32 vs the float64 reference: each dense layer is a dot product of length n <= 4C = 64, whose
// rounding error is at most n u |x||w| (u = 2^-24 ~ 6e-8), ~4e-6 relative per layer; two blocks and
// the head stay under 2e-5 relative. 1e-4 * (1 + |value|) leaves a 5x margin.
const close = (actual: number, expected: number, tol = 1e-4) => Math.abs(actual - expected) <= tol * (1 + Math.abs(expected))

describe("Gpt config", () => {
  it("counts the reference model's parameters by hand: 805,632", () => {
    // wte 32*128 + wpe 64*128 + 4 * (ln 2*256 + q,k,v,proj 4*(128*128+128) + fc 128*512+512 + proj 512*128+128) + ln_f 256
    expect(Gpt.parameterCount(Gpt.defaultConfig)).toBe(4096 + 8192 + 4 * (512 + 4 * 16512 + 66048 + 65664) + 256)
    expect(Gpt.parameterCount(Gpt.defaultConfig)).toBe(805_632)
  })
  it("rejects a head count that does not divide the width, naming the field", () => {
    expect(() => Gpt.makeConfig({ nEmbd: 30, nHead: 4 })).toThrow(InvalidArgumentError)
    expect(() => Gpt.makeConfig({ nEmbd: 30, nHead: 4 })).toThrow(/GptConfig.nHead/)
    expect(() => Gpt.makeConfig({ vocabSize: 0 })).toThrow(/GptConfig.vocabSize/)
  })
  it("names params like HF GPT-2 with q, k, v split", () => {
    const names = Gpt.parameterShapes(Gpt.makeConfig({ nLayer: 1 })).map(([n]) => n)
    expect(names).toContain("transformer.h.0.attn.c_q.weight")
    expect(names).toContain("transformer.h.0.mlp.c_proj.bias")
    expect(names).not.toContain("lm_head.weight") // tied to wte
  })
  it("inits deterministically from the seed, GPT-2 style", () => {
    const a = Gpt.init(tinyConfig, 7)
    const b = Gpt.init(tinyConfig, 7)
    const wa = weightsOf(a)
    const wb = weightsOf(b)
    for (const [n, x] of wa) expect(Array.from(x)).toEqual(Array.from(wb.get(n)!))
    expect(Array.from(wa.get("transformer.h.0.ln_1.weight")!).every((x) => x === 1)).toBe(true)
    expect(Array.from(wa.get("transformer.h.1.mlp.c_fc.bias")!).every((x) => x === 0)).toBe(true)
    a.dispose()
    b.dispose()
  })
})

// The model on the engine's kernels and on stock tfjs-wasm (gather vs oneHot embedding, fused vs
// composite LayerNorm/GELU): both must match the reference.
describe.each(["duet", "stock"] as const)("Gpt forward (%s kernels)", (kernels) => {
  beforeAll(async () => {
    await Engine.init({ backend: "wasm", kernels })
  })
  const policy = randomPolicy(tinyConfig, 1)
  const w = weightsOf(policy)
  const V = tinyConfig.vocabSize

  it("logits have shape (B, T, V) and equal the float64 reference row by row", () => {
    const rng = Rng.seeded(3)
    const B = 3
    const T = 7
    const rows = Array.from({ length: B }, () => randomTokens(rng, T, V))
    const logits = tf.tidy(() => policy.logits(tf.tensor2d(Int32Array.from(rows.flatMap((r) => Array.from(r))), [B, T], "int32")))
    expect(logits.shape).toEqual([B, T, V])
    const got = logits.arraySync() as number[][][]
    logits.dispose()
    for (let b = 0; b < B; b++) {
      const ref = referenceLogits(tinyConfig, w, rows[b]!)
      for (let t = 0; t < T; t++) for (let v = 0; v < V; v++) expect(close(got[b]![t]![v]!, ref[t]![v]!), `b${b} t${t} v${v}`).toBe(true)
    }
  })

  it("causal mask: changing tokens after t leaves logits at positions <= t bit-identical", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: tinyConfig.blockSize }), (seed, T) => {
        const rng = Rng.seeded(seed)
        const t = rng.int(T - 1)
        const a = randomTokens(rng, 2 * T, V)
        const b = Int32Array.from(a)
        for (let row = 0; row < 2; row++) for (let s = t + 1; s < T; s++) b[row * T + s] = rng.int(V)
        const [la, lb] = [a, b].map((x) =>
          tf.tidy(() => tf.slice(policy.logits(tf.tensor2d(x, [2, T], "int32")), [0, 0, 0], [2, t + 1, V]).dataSync())
        )
        expect(Array.from(lb!)).toEqual(Array.from(la!))
      })
    )
  })

  it("tokenLogprobs equal log-softmax of the float64 reference at the targets", () => {
    const rng = Rng.seeded(5)
    const T = 9
    const row = randomTokens(rng, T + 1, V)
    const lp = tf.tidy(() =>
      policy.tokenLogprobs(tf.tensor2d(row.subarray(0, T), [1, T], "int32"), tf.tensor2d(row.subarray(1), [1, T], "int32")).dataSync()
    )
    const ref = referenceTokenLogprobs(tinyConfig, w, row)
    ref.forEach((r, t) => expect(close(lp[t]!, r), `t${t}: ${lp[t]} vs ${r}`).toBe(true))
  })

  it("sequenceLogprobs of ragged (prompt, completion) rows equal each row computed alone, with the mask", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 6 })), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 1000 }),
        (lengths, seed) => {
          const rng = Rng.seeded(seed)
          const prompts = lengths.map(([p]) => randomTokens(rng, p, V))
          const completions = lengths.map(([, c]) => randomTokens(rng, c, V))
          const Tc = Math.max(...lengths.map(([, c]) => c))
          const out = policy.sequenceLogprobs(prompts, completions)
          expect(out.logprobs.shape).toEqual([lengths.length, Tc])
          const lp = out.logprobs.dataSync()
          const mask = out.mask.dataSync()
          out.logprobs.dispose()
          out.mask.dispose()
          lengths.forEach(([p, c], b) => {
            const row = Int32Array.from([...prompts[b]!, ...completions[b]!])
            const ref = referenceTokenLogprobs(tinyConfig, w, row).slice(p - 1) // completion tokens only
            for (let j = 0; j < Tc; j++) {
              expect(mask[b * Tc + j]).toBe(j < c ? 1 : 0)
              if (j < c) expect(close(lp[b * Tc + j]!, ref[j]!), `row ${b} token ${j}`).toBe(true)
              else expect(lp[b * Tc + j]).toBe(0)
            }
          })
        }
      ),
      { numRuns: 10 }
    )
  })

  it("rejects rows longer than blockSize and tokens outside the vocabulary, naming them", () => {
    const p = [Int32Array.from({ length: 10 }, () => 1)]
    expect(() => policy.sequenceLogprobs(p, [Int32Array.from({ length: 7 }, () => 1)])).toThrow(/completions\[0\].*blockSize 16/)
    expect(() => policy.sequenceLogprobs([Int32Array.from([1, 99])], [Int32Array.from([1])])).toThrow(/prompts\[0\]\[1\]/)
    expect(() => policy.sequenceLogprobs([new Int32Array(0)], [Int32Array.from([1])])).toThrow(/prompts\[0\]/)
  })
})

describe.each(["duet", "stock"] as const)("Gpt gradients (%s kernels)", (kernels) => {
  beforeAll(async () => {
    await Engine.init({ backend: "wasm", kernels })
  })
  it("sequenceLogprobs (packed rows, fused attention on duet's addon paths) has the padded form's value and gradients", () => {
    const config = Gpt.makeConfig({ vocabSize: 7, blockSize: 12, nLayer: 2, nHead: 2, nEmbd: 32, mlpRatio: 2 })
    const policy = randomPolicy(config, 4, 0.5)
    const rng = Rng.seeded(5)
    const shapes = [[3, 4], [1, 0], [5, 7], [2, 1], [4, 3]] as const
    const prompts = shapes.map(([p]) => randomTokens(rng, p, 7))
    const completions = shapes.map(([, c]) => randomTokens(rng, c, 7))
    const weights = Array.from({ length: shapes.length * 7 }, () => rng.normal())
    const run = (f: () => { logprobs: tf.Tensor2D; mask: tf.Tensor2D }) => {
      const { value, grads } = policy.lossAndGrads(() =>
        tf.tidy(() => {
          const { logprobs, mask } = f()
          return tf.sum(tf.mul(tf.mul(logprobs, mask), tf.tensor2d(weights, [shapes.length, 7]))) as tf.Scalar
        })
      )
      const out = { value: value.dataSync()[0]!, grads: new Map([...grads].map(([n, g]) => [n, g.dataSync().slice()])) }
      tf.dispose([value, ...grads.values()])
      return out
    }
    const packed = run(() => policy.sequenceLogprobs(prompts, completions))
    const padded = run(() => Policies.completionLogprobs(policy, prompts, completions))
    expect(close(packed.value, padded.value)).toBe(true)
    expect([...packed.grads.keys()].sort()).toEqual([...padded.grads.keys()].sort())
    // relative to the largest gradient entry: c_k.bias's gradient is 0 up to rounding (softmax ignores
    // a shift shared by a row's scores), so its own scale is noise
    const scale = Math.max(...[...padded.grads.values()].map((g) => Math.max(...Array.from(g, Math.abs))))
    for (const [name, g] of packed.grads) {
      const want = padded.grads.get(name)!
      g.forEach((x, i) => expect(Math.abs(x - want[i]!) <= 1e-5 * scale + 1e-4 * Math.abs(want[i]!), `${name}[${i}]: ${x} vs ${want[i]}`).toBe(true))
    }
    policy.dispose()
  })

  it("match central finite differences of the float64 reference", () => {
    const config = Gpt.makeConfig({ vocabSize: 5, blockSize: 6, nLayer: 1, nHead: 2, nEmbd: 8, mlpRatio: 2 })
    const policy = randomPolicy(config, 9, 0.5)
    const rows = [Int32Array.from([1, 3, 0, 4, 2, 2]), Int32Array.from([4, 4, 1, 0, 3, 1])]
    const T = 5
    const inputs = tf.tensor2d(Int32Array.from(rows.flatMap((r) => Array.from(r.subarray(0, T)))), [2, T], "int32")
    const targets = tf.tensor2d(Int32Array.from(rows.flatMap((r) => Array.from(r.subarray(1)))), [2, T], "int32")
    const { value, grads } = policy.lossAndGrads(() => tf.sum(policy.tokenLogprobs(inputs, targets)) as tf.Scalar)
    const w = weightsOf(policy)
    const loss64 = (weights: Map<string, Float32Array>) =>
      rows.reduce((s, r) => s + referenceTokenLogprobs(config, weights, r).reduce((a, b) => a + b, 0), 0)
    expect(close(value.dataSync()[0]!, loss64(w))).toBe(true)
    const rng = Rng.seeded(2)
    // h = 1e-3: central differences err by h^2 f'''/6 ~ 1e-7 here; the float32 gradient by ~1e-5
    // relative (as the forward). Checked: 3 entries of every parameter tensor.
    const h = 1e-3
    for (const [name, g] of grads) {
      const gd = g.dataSync()
      for (let k = 0; k < 3; k++) {
        const i = rng.int(gd.length)
        const up = Float32Array.from(w.get(name)!)
        up[i] = up[i]! + h
        const down = Float32Array.from(w.get(name)!)
        down[i] = down[i]! - h
        // the float32-rounded steps, so the quotient uses the perturbation actually applied
        const stepUp = up[i]! - w.get(name)![i]!
        const stepDown = w.get(name)![i]! - down[i]!
        const fd = (loss64(new Map(w).set(name, up)) - loss64(new Map(w).set(name, down))) / (stepUp + stepDown)
        expect(Math.abs(gd[i]! - fd) <= 1e-3 * (1 + Math.abs(fd)), `${name}[${i}]: ${gd[i]} vs ${fd}`).toBe(true)
      }
    }
    value.dispose()
    for (const g of grads.values()) g.dispose()
    tf.dispose([inputs, targets])
    policy.dispose()
  })
})
