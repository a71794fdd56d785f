/**
 * The HF families on stock tfjs-wasm kernels (no duet overrides: transposed matmuls on the stock
 * path, no UnsortedSegmentSum so the embedding is oneHot @ E): parity and gradients still hold, so
 * nothing in the Llama path depends on duet's wasm kernels.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import * as tf from "@tensorflow/tfjs-core"
import { Engine } from "@duet/engine"
import * as Hf from "../src/Hf.js"
import "./backend.js"

const FIXTURES = join(import.meta.dirname, "fixtures", "hf")

describe.each(["llama-gqa", "qwen3-headdim"])("%s on stock kernels", (name) => {
  beforeAll(async () => {
    await Engine.init({ backend: "wasm", kernels: "stock" })
  })
  it("log-probs within 1e-4 of transformers; gradients reach every parameter", async () => {
    const ref = JSON.parse(readFileSync(join(FIXTURES, name, "reference.json"), "utf8")) as { rows: Array<{ promptIds: number[]; completionIds: number[]; logprobs: number[] }> }
    const { policy } = await Hf.load(join(FIXTURES, name))
    const prompts = ref.rows.map((r) => Int32Array.from(r.promptIds))
    const completions = ref.rows.map((r) => Int32Array.from(r.completionIds))
    const { logprobs } = policy.sequenceLogprobs(prompts, completions)
    const lp = logprobs.arraySync() as number[][]
    logprobs.dispose()
    ref.rows.forEach((r, b) => r.logprobs.forEach((want, j) => expect(Math.abs(lp[b]![j]! - want)).toBeLessThan(1e-4)))
    const { value, grads } = policy.lossAndGrads(() => {
      const { logprobs, mask } = policy.sequenceLogprobs(prompts, completions)
      return tf.neg(tf.div(tf.sum(tf.mul(logprobs, mask)), tf.sum(mask))) as tf.Scalar
    })
    expect(grads.size).toBe(policy.params.size)
    for (const [n, g] of grads) expect(Number.isFinite(tf.norm(g).dataSync()[0]!), n).toBe(true)
    tf.dispose([value, ...grads.values()])
    policy.dispose()
  })
})
