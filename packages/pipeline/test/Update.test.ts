import { describe, expect, it } from "vitest"
import { Gpt } from "@duet/model"
import { Engine } from "@duet/engine"
import { ppoClip, tokenMean } from "@duet/losses"
import { Update } from "../src/index.js"

describe("Update.rlStep", () => {
  it("raises the log-prob of a positive-advantage completion and lowers a negative one (same prompt)", async () => {
    await Engine.init({ threads: 1 })
    const policy = Gpt.init(Gpt.makeConfig({ vocabSize: 12, blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 16 }), 3)
    const opt = Update.makeOptimizer(policy, { lr: 1e-2, weightDecay: 0 })
    const prompt = Int32Array.from([1, 5, 6, 7])
    const good = Int32Array.from([8, 9, 4])
    const bad = Int32Array.from([10, 11, 4, 4])
    const seqLogp = () => Array.from(Update.sequenceLogprobSums(policy, [prompt, prompt], [good, bad]))
    const tokenLogps = (c: Int32Array) => {
      const { logprobs } = policy.sequenceLogprobs([prompt], [c])
      const out = Float32Array.from(logprobs.dataSync())
      logprobs.dispose()
      return out
    }
    const [g0, b0] = seqLogp()
    for (let i = 0; i < 5; i++) {
      Update.rlStep(
        policy,
        opt,
        1e-2,
        ppoClip({ aggregation: tokenMean }),
        {
          prompts: [prompt, prompt, prompt],
          completions: [good, bad, good],
          oldLogprobs: [tokenLogps(good), tokenLogps(bad), tokenLogps(good)],
          advantages: Float64Array.from([0.7, -0.7, 0])
        },
        true
      )
    }
    const [g1, b1] = seqLogp()
    expect(g1!).toBeGreaterThan(g0! + 0.5)
    expect(b1!).toBeLessThan(b0! - 0.5)
  })
})
