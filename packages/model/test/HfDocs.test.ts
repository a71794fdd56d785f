// The "Hugging Face models" example of docs/model.md, run as written on a fixture directory.
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { tf } from "@duet/engine"
import { AdamW, Hf, Sampler } from "../src/index.js"
import "./backend.js"

describe("docs/model.md HF example", () => {
  it("loads, samples with the chat template, scores, takes an SFT step and saves in HF layout", async () => {
    const dir = join(import.meta.dirname, "fixtures", "hf", "qwen2-bias")
    const { policy, tokenizer, source } = await Hf.load(dir)
    const tok = tokenizer!
    const text = tok.applyChatTemplate([{ role: "user", content: "What is 2 + 3?" }], { addGenerationPrompt: true })
    const prompts = [tok.encode(text)] // the template already holds any BOS: no special tokens added
    const out = Sampler.sample(policy, prompts, { maxTokens: 8, temperature: 0.7, topP: 0.95, stopTokens: tok.stopTokens, seed: 1 })
    expect(tok.decode(out[0]!.tokens)).toBeTypeOf("string")

    // score a completion given a raw prompt (tokenized separately, as TRL and verl do)
    const { logprobs, mask } = policy.sequenceLogprobs([tok.encode("12 + 7 =", { addSpecialTokens: true })], [tok.encode(" 19")])
    expect(logprobs.shape).toEqual(mask.shape)
    tf.dispose([logprobs, mask])

    const reference = policy.withParams(policy.params) // frozen snapshot (e.g. for KL)
    const state = AdamW.init(policy.params)
    const { value, grads } = policy.lossAndGrads(() => {
      const { logprobs, mask } = policy.sequenceLogprobs(prompts, out.map((o) => o.tokens))
      return tf.neg(tf.div(tf.sum(tf.mul(logprobs, mask)), tf.sum(mask))) as tf.Scalar
    })
    AdamW.apply(policy.params, grads, state, AdamW.makeConfig({ lr: 1e-5 }))
    tf.dispose([value, ...grads.values()])

    const saved = join(mkdtempSync(join(tmpdir(), "duet-hf-docs-")), "step-1")
    await Hf.save(saved, policy, { source }) // same names and dtypes (F16 here), tokenizer files copied
    const again = await Hf.load(saved)
    expect(again.tokenizer!.applyChatTemplate([{ role: "user", content: "hi" }])).toContain("hi")
    for (const p of [again.policy, reference, policy]) p.dispose()
    AdamW.dispose(state)
  })
})
