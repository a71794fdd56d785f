import { beforeAll, describe, expect, it } from "vitest"
import { Effect } from "effect"
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Engine, tf } from "@duet/engine"
import { AdamW } from "@duet/model"
import { PolicyStore, Recipe, Setup } from "../src/index.js"

const tmp = () => mkdtempSync(join(tmpdir(), "duet-store-"))
const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
const values = async (m: ReadonlyMap<string, tf.Tensor>) => new Map(await Promise.all([...m].map(async ([n, t]) => [n, Array.from(await t.data())] as const)))

beforeAll(async () => {
  await Engine.init({ threads: 1 })
})

describe("PolicyStore (GPT)", () => {
  it("init is Gpt.init of the recipe; save -> load is bit-exact, optimizer and meta included", async () => {
    const recipe = await run(Recipe.load(undefined, undefined, ["model.nLayer=1", "model.nEmbd=16", "model.nHead=2", "model.blockSize=16"]))
    const setup = await run(Setup.make(recipe))
    const store = PolicyStore.make(recipe, setup)
    expect(store.describe).toMatch(/^gpt, [\d,]+ parameters$/)
    const policy = await run(store.init(3))
    const again = await run(store.init(3))
    expect(await values(again.params)).toEqual(await values(policy.params))
    const state = AdamW.init(policy.params)
    // one real update so the moments are not zeros
    const { value, grads } = policy.lossAndGrads(() => {
      const { logprobs, mask } = policy.sequenceLogprobs([setup.codec.prompt("1+2=")], [setup.codec.completion("3\n")])
      return tf.neg(tf.sum(tf.mul(logprobs, mask))) as tf.Scalar
    })
    AdamW.apply(policy.params, grads, state, AdamW.makeConfig({ lr: 1e-2 }))
    tf.dispose([value, ...grads.values()])
    const dir = join(tmp(), "step-000001")
    await run(store.save(dir, policy, state, { step: 1, note: "x" }))
    const loaded = await run(store.load(dir))
    expect(loaded.meta).toEqual({ step: 1, note: "x" })
    expect([...loaded.policy.params.keys()]).toEqual([...policy.params.keys()])
    expect(await values(loaded.policy.params)).toEqual(await values(policy.params))
    const restored = PolicyStore.restoreOptimizer(loaded)
    loaded.dispose()
    expect(restored.step).toBe(1)
    expect(await values(restored.m)).toEqual(await values(state.m))
    expect(await values(restored.v)).toEqual(await values(state.v))
    const bad = await run(Effect.exit(store.load(join(dir, "nope"))))
    expect(bad._tag).toBe("Failure")
    expect(JSON.stringify(bad)).toContain("nope")
  }, 60_000)
})

const fixture = (name: string) => join(__dirname, "../../model/test/fixtures/hf", name)

describe("PolicyStore (Hugging Face)", () => {
  it("init loads the directory; a checkpoint is an HF directory plus duet.json and optimizer.safetensors; load is bit-exact", async () => {
    const dir = fixture("qwen2-bias") // F16 weights, tied, ChatML template
    const recipe = await run(Recipe.load(undefined, undefined, [`model.hf=${dir}`, "model.blockSize=48"]))
    const setup = await run(Setup.make(recipe))
    expect(setup.model.kind).toBe("hf")
    expect(() => setup.modelConfig).toThrow(/PolicyStore/)
    const store = PolicyStore.make(recipe, setup)
    expect(store.describe).toMatch(/^qwen2 from .*qwen2-bias, [\d,]+ parameters$/)
    const policy = await run(store.init(0))
    expect(policy.config.blockSize).toBe(48)
    expect(policy.params.size).toBeGreaterThan(0)
    const state = AdamW.init(policy.params)
    const { value, grads } = policy.lossAndGrads(() => {
      const { logprobs, mask } = policy.sequenceLogprobs([setup.codec.prompt("1+2=")], [setup.codec.completion("3\n")])
      return tf.neg(tf.sum(tf.mul(logprobs, mask))) as tf.Scalar
    })
    AdamW.apply(policy.params, grads, state, AdamW.makeConfig({ lr: 1e-2 }))
    tf.dispose([value, ...grads.values()])
    const ckpt = join(tmp(), "step-000001")
    await run(store.save(ckpt, policy, state, { step: 1 }))
    const files = readdirSync(ckpt).sort()
    expect(files).toEqual(["config.json", "duet.json", "generation_config.json", "model.safetensors", "optimizer.safetensors", "tokenizer.json", "tokenizer_config.json"].concat(files.includes("chat_template.jinja") ? ["chat_template.jinja"] : []).sort())
    const cfg = JSON.parse(readFileSync(join(ckpt, "config.json"), "utf8")) as Record<string, unknown>
    const src = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>
    expect({ ...cfg, dtype: src["dtype"] }).toEqual(src) // the source config, float32 now
    expect(cfg["dtype"]).toBe("float32")
    const loaded = await run(store.load(ckpt))
    expect(loaded.meta).toEqual({ step: 1 })
    expect([...loaded.policy.params.keys()]).toEqual([...policy.params.keys()])
    expect(await values(loaded.policy.params)).toEqual(await values(policy.params))
    const restored = PolicyStore.restoreOptimizer(loaded)
    loaded.dispose()
    expect(restored.step).toBe(1)
    expect(await values(restored.m)).toEqual(await values(state.m))
    // a torn file is refused, naming it
    const model = join(ckpt, "model.safetensors")
    writeFileSync(model, readFileSync(model).subarray(0, 100))
    const torn = await run(Effect.exit(store.load(ckpt)))
    expect(JSON.stringify(torn)).toMatch(/model\.safetensors: has 100 bytes, duet\.json says/)
  }, 60_000)
})
