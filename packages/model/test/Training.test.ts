import { describe, expect, it } from "vitest"
import * as tf from "@tensorflow/tfjs-core"
import { Rng } from "@duet/core"
import * as AdamW from "../src/AdamW.js"
import * as Gpt from "../src/Gpt.js"
import "./backend.js"
import { randomTokens } from "./helpers.js"

const config = Gpt.makeConfig({ vocabSize: 11, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 32 })

/** One step of next-token training on fixed rows; returns the loss (mean NLL). */
const step = (policy: Gpt.Policy, state: AdamW.AdamWState, opt: AdamW.AdamWConfig, inputs: tf.Tensor2D, targets: tf.Tensor2D): number => {
  const { value, grads } = policy.lossAndGrads(() => tf.neg(tf.mean(policy.tokenLogprobs(inputs, targets))) as tf.Scalar)
  AdamW.apply(policy.params, grads, state, opt)
  const loss = value.dataSync()[0]!
  tf.dispose([value, ...grads.values()])
  return loss
}

describe("training", () => {
  const rng = Rng.seeded(1)
  const rows = Array.from({ length: 4 }, () => randomTokens(rng, 13, config.vocabSize))
  const inputs = tf.tensor2d(Int32Array.from(rows.flatMap((r) => Array.from(r.subarray(0, 12)))), [4, 12], "int32")
  const targets = tf.tensor2d(Int32Array.from(rows.flatMap((r) => Array.from(r.subarray(1)))), [4, 12], "int32")

  it("overfits four random sequences (mean NLL from ln 11 = 2.40 to < 0.05)", () => {
    const policy = Gpt.init(config, 3)
    const opt = AdamW.makeConfig({ lr: 1e-2, weightDecay: 0 })
    const state = AdamW.init(policy.params)
    const first = step(policy, state, opt, inputs, targets)
    expect(Math.abs(first - Math.log(11))).toBeLessThan(0.2) // GPT-2 init: near-uniform predictions
    let loss = first
    for (let i = 0; i < 150 && loss > 0.02; i++) loss = step(policy, state, opt, inputs, targets)
    expect(loss).toBeLessThan(0.05)
    AdamW.dispose(state)
    policy.dispose()
  })

  it("a frozen copy (Gpt.fromParams of the live params) does not move when the policy trains", () => {
    const policy = Gpt.init(config, 5)
    const reference = Gpt.fromParams(policy.config, policy.params) // shares buffers until written
    const before = new Map([...reference.params].map(([n, p]) => [n, Float32Array.from(p.dataSync() as Float32Array)]))
    const state = AdamW.init(policy.params)
    step(policy, state, AdamW.makeConfig({ lr: 1e-2 }), inputs, targets)
    let moved = 0
    for (const [n, p] of reference.params) {
      expect(Array.from(p.dataSync()), n).toEqual(Array.from(before.get(n)!))
      if (Array.from(policy.params.get(n)!.dataSync()).some((x, i) => x !== before.get(n)![i])) moved++
    }
    expect(moved).toBe(policy.params.size) // every live parameter did move (lr 1e-2, no zero gradients)
    AdamW.dispose(state)
    reference.dispose()
    policy.dispose()
  })

  it("leaks no tensor across steps (forward, backward, AdamW, log-probs)", () => {
    const policy = Gpt.init(config, 4)
    const opt = AdamW.makeConfig({})
    const state = AdamW.init(policy.params)
    step(policy, state, opt, inputs, targets)
    const before = tf.memory().numTensors
    for (let i = 0; i < 3; i++) {
      step(policy, state, opt, inputs, targets)
      const { logprobs, mask } = policy.sequenceLogprobs([rows[0]!.subarray(0, 3)], [rows[0]!.subarray(3, 8)])
      tf.dispose([logprobs, mask])
      expect(tf.memory().numTensors).toBe(before)
    }
    AdamW.dispose(state)
    policy.dispose()
  })
})
