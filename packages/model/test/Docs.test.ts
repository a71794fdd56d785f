// The usage example of docs/model.md, run as written (imports via the package barrel).
import { describe, expect, it } from "vitest"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { tf } from "@duet/engine"
import { AdamW, Checkpoint, Gpt, Sampler, Tokenizer } from "../src/index.js"
import "./backend.js"

describe("docs/model.md example", () => {
  it("samples, trains one step on the samples, checkpoints and reloads", async () => {
    const tok = Tokenizer.CharTokenizer.fromAlphabet("0123456789+-*=")
    const config = Gpt.makeConfig({ vocabSize: tok.vocabSize })
    const policy = Gpt.init(config, 42)
    const prompts = ["12+7="].map((s) => Int32Array.from([tok.bos, ...tok.encode(s)]))
    const out = Sampler.sample(policy, prompts, { maxTokens: 8, temperature: 1, topP: 1, topK: 0, stopTokens: [tok.eos], seed: 1 })
    expect(out[0]!.tokens.length).toBe(out[0]!.logprobs.length)
    const opt = AdamW.makeConfig({ lr: 3e-4, weightDecay: 0.1, maxGradNorm: 1 })
    const state = AdamW.init(policy.params)
    const { value, grads } = policy.lossAndGrads(() => {
      const { logprobs, mask } = policy.sequenceLogprobs(prompts, out.map((o) => o.tokens))
      return tf.neg(tf.div(tf.sum(tf.mul(logprobs, mask)), tf.sum(mask))) as tf.Scalar
    })
    // the loss is the mean NLL of the sampled tokens: minus the mean of the sampler's own log-probs
    const mean = out[0]!.logprobs.reduce((a, b) => a + b, 0) / out[0]!.logprobs.length
    expect(value.dataSync()[0]!).toBeCloseTo(-mean, 4)
    const { gradNorm } = AdamW.apply(policy.params, grads, state, opt)
    expect(gradNorm).toBeGreaterThan(0)
    tf.dispose([value, ...grads.values()])
    const dir = join(mkdtempSync(join(tmpdir(), "duet-docs-")), "runs", "x", "step-100")
    await Checkpoint.save(dir, { config, params: policy.params, optimizerState: state, tokenizer: tok, meta: { step: 100 } })
    const loaded = await Checkpoint.load(dir)
    expect(loaded.meta).toEqual({ step: 100 })
    expect(Tokenizer.fromSpec(loaded.tokenizer!).decode(prompts[0]!)).toBe("12+7=")
    Checkpoint.dispose(loaded)
    AdamW.dispose(state)
    policy.dispose()
  })
})
