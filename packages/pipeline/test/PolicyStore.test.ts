import { beforeAll, describe, expect, it } from "vitest"
import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
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
