import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { Engine } from "@duet/engine"
import { Gpt } from "@duet/model"
import { Sampler } from "../src/index.js"

const request = (seed: number): Sampler.SampleRequest => ({
  prompts: [Int32Array.from([1, 4, 5]), Int32Array.from([1, 6]), Int32Array.from([1, 4, 5])],
  maxTokens: 6,
  temperature: 1,
  topP: 1,
  topK: 0,
  stopTokens: [3],
  seed
})

const sampleWith = (layer: ReturnType<typeof Sampler.layerLocal>, seed: number) =>
  Effect.runPromise(Effect.provide(Effect.flatMap(Sampler.Sampler, (s) => s.sample(request(seed))), layer))

describe("Sampler.layerLocal", () => {
  it("samples from the policy: same seed same completions, stop tokens end rows, log-probs per token", async () => {
    await Engine.init({ threads: 1 })
    const policy = Gpt.init(Gpt.makeConfig({ vocabSize: 8, blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 16 }), 1)
    const layer = Sampler.layerLocal(() => policy)
    const a = await sampleWith(layer, 7)
    const b = await sampleWith(layer, 7)
    const c = await sampleWith(layer, 8)
    expect(a.map((x) => Array.from(x.tokens))).toEqual(b.map((x) => Array.from(x.tokens)))
    expect(a.map((x) => Array.from(x.tokens))).not.toEqual(c.map((x) => Array.from(x.tokens)))
    for (const row of [...a, ...c]) {
      expect(row.logprobs.length).toBe(row.tokens.length)
      for (const lp of row.logprobs) expect(lp).toBeLessThanOrEqual(0)
      const stopAt = Array.from(row.tokens).indexOf(3)
      if (row.finishReason === "stop") expect(stopAt).toBe(row.tokens.length - 1)
      else expect(row.tokens.length).toBe(6)
    }
    for (const v of policy.params.values()) v.dispose()
  })
  it("reads the policy at each call (an in-place update is seen by the next request)", async () => {
    await Engine.init({ threads: 1 })
    const p1 = Gpt.init(Gpt.makeConfig({ vocabSize: 8, blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 16 }), 1)
    const p2 = Gpt.init(Gpt.makeConfig({ vocabSize: 8, blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 16 }), 2)
    let current = p1
    const layer = Sampler.layerLocal(() => current)
    const a = await sampleWith(layer, 3)
    current = p2
    const b = await sampleWith(layer, 3)
    expect(a.map((x) => Array.from(x.logprobs))).not.toEqual(b.map((x) => Array.from(x.logprobs)))
  })
  it("a bad request fails with SamplerError naming the problem", async () => {
    await Engine.init({ threads: 1 })
    const policy = Gpt.init(Gpt.makeConfig({ vocabSize: 8, blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 16 }), 1)
    const exit = await Effect.runPromise(
      Effect.exit(
        Effect.provide(
          Effect.flatMap(Sampler.Sampler, (s) => s.sample({ ...request(1), topP: 2 })),
          Sampler.layerLocal(() => policy)
        )
      )
    )
    expect(exit._tag).toBe("Failure")
    expect(JSON.stringify(exit)).toMatch(/local sampler: topP/)
  })
})

describe("Sampler.layerTest", () => {
  it("is deterministic and honours stop tokens and maxTokens", async () => {
    const layer = Sampler.layerTest({ vocab: [3, 4, 5, 6], length: 5 })
    const run = (seed: number) => Effect.runPromise(Effect.provide(Effect.flatMap(Sampler.Sampler, (s) => s.sample(request(seed))), layer))
    const a = await run(1)
    expect(a.map((x) => Array.from(x.tokens))).toEqual((await run(1)).map((x) => Array.from(x.tokens)))
    for (const row of a) {
      expect(row.tokens.length).toBeLessThanOrEqual(5)
      if (row.finishReason === "stop") expect(row.tokens[row.tokens.length - 1]).toBe(3)
    }
  })
})
