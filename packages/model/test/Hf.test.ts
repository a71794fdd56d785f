/**
 * Parity with transformers on the committed fixtures (tools/hf-fixtures/make_fixtures.py): tiny
 * random Llama / Qwen2 / Qwen3 checkpoints written by transformers, and the log-probs and greedy
 * tokens transformers computed for them. Plus the load/save contract and its errors.
 */
import { mkdtempSync, readFileSync, writeFileSync, cpSync, rmSync, readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as tf from "@tensorflow/tfjs-core"
import * as Hf from "../src/Hf.js"
import * as Sampler from "../src/Sampler.js"
import * as Safetensors from "../src/Safetensors.js"
import "./backend.js"

const FIXTURES = join(import.meta.dirname, "fixtures", "hf")
const MODELS = ["llama-gqa", "llama3-mqa-tied", "qwen2-bias", "qwen3-headdim"] as const

interface Row {
  prompt: string
  completion: string
  promptIds: number[]
  completionIds: number[]
  logprobs: number[]
  greedy: number[]
}
const reference = (name: string): { rows: Row[] } => JSON.parse(readFileSync(join(FIXTURES, name, "reference.json"), "utf8"))

const scratch = mkdtempSync(join(tmpdir(), "duet-hf-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

describe.each(MODELS)("%s matches transformers", (name) => {
  const ref = reference(name)
  const loaded = Hf.load(join(FIXTURES, name))

  it("completion log-probs within 1e-4 (batched, right padded)", async () => {
    const { policy } = await loaded
    const before = tf.memory().numTensors
    const { logprobs, mask } = policy.sequenceLogprobs(
      ref.rows.map((r) => Int32Array.from(r.promptIds)),
      ref.rows.map((r) => Int32Array.from(r.completionIds))
    )
    const lp = (await logprobs.array()) as number[][]
    const m = (await mask.array()) as number[][]
    tf.dispose([logprobs, mask])
    expect(tf.memory().numTensors).toBe(before)
    let worst = 0
    ref.rows.forEach((r, b) => {
      r.logprobs.forEach((want, j) => {
        worst = Math.max(worst, Math.abs(lp[b]![j]! - want))
        expect(m[b]![j]).toBe(1)
      })
      for (let j = r.logprobs.length; j < lp[b]!.length; j++) expect(m[b]![j]).toBe(0)
    })
    expect(worst).toBeLessThan(1e-4)
  })

  it("greedy continuations identical, KV-cached and uncached", async () => {
    const { policy } = await loaded
    const prompts = ref.rows.map((r) => Int32Array.from(r.promptIds))
    const n = ref.rows[0]!.greedy.length
    for (const cache of ["inPlace", "concat", "none"] as const) {
      const out = Sampler.sample(policy, prompts, { maxTokens: n, temperature: 0, seed: 1, cache })
      out.forEach((c, b) => expect(Array.from(c.tokens), `${cache} row ${b}`).toEqual(ref.rows[b]!.greedy))
    }
  })

  it("sampling at temperature 1: cached equals uncached, log-probs equal a forward's", async () => {
    const { policy } = await loaded
    const prompts = ref.rows.map((r) => Int32Array.from(r.promptIds))
    const a = Sampler.sample(policy, prompts, { maxTokens: 6, seed: 7, topK: 20, topP: 0.9 })
    const b = Sampler.sample(policy, prompts, { maxTokens: 6, seed: 7, topK: 20, topP: 0.9, cache: "none" })
    expect(a.map((c) => Array.from(c.tokens))).toEqual(b.map((c) => Array.from(c.tokens)))
    const { logprobs } = policy.sequenceLogprobs(prompts, a.map((c) => c.tokens))
    const lp = (await logprobs.array()) as number[][]
    logprobs.dispose()
    a.forEach((c, i) => c.logprobs.forEach((x, j) => expect(Math.abs(x - lp[i]![j]!)).toBeLessThan(1e-4)))
  })

  it("save -> load round trip is bit-exact, in the stored dtypes and names", async () => {
    const { policy, source } = await loaded
    const out = join(scratch, name)
    await Hf.save(out, policy, { source })
    const again = await Hf.load(out)
    for (const [n, p] of policy.params) {
      expect(Buffer.from((await again.policy.params.get(n)!.data()).buffer).equals(Buffer.from((await p.data()).buffer)), n).toBe(true)
      expect(again.source.dtypes.get(n)).toBe(source.dtypes.get(n))
    }
    // the saved weights are the same bytes as the source's (single file or shards)
    const names = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".safetensors"))
    const tensorsOf = (dir: string) => {
      const all = new Map<string, Safetensors.RawTensor>()
      for (const f of names(dir)) for (const [k, v] of Safetensors.decode(readFileSync(join(dir, f)), f).tensors) all.set(k, v)
      return all
    }
    const a = tensorsOf(join(FIXTURES, name))
    const b = tensorsOf(out)
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort())
    for (const [k, v] of a) expect(Buffer.from(b.get(k)!.bytes).equals(Buffer.from(v.bytes)), k).toBe(true)
    again.policy.dispose()
  })
})

describe("Hf.save layouts", () => {
  it("shards with an index when asked, and F32 by choice", async () => {
    const { policy, source } = await Hf.load(join(FIXTURES, "qwen2-bias"))
    const out = join(scratch, "sharded")
    await Hf.save(out, policy, { source, dtype: "F32", maxShardBytes: 40_000 })
    const files = readdirSync(out)
    expect(files).toContain(Hf.INDEX_FILE)
    expect(files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(1)
    expect(JSON.parse(readFileSync(join(out, "config.json"), "utf8")).dtype).toBe("float32")
    const again = await Hf.load(out)
    expect([...again.source.dtypes.values()].every((d) => d === "F32")).toBe(true)
    for (const [n, p] of policy.params) expect(Array.from(await again.policy.params.get(n)!.data())).toEqual(Array.from(await p.data()))
    again.policy.dispose()
    policy.dispose()
  })
})

describe("Hf errors name the file and the field", () => {
  const copy = (from: string): string => {
    const d = mkdtempSync(join(scratch, "bad-"))
    cpSync(join(FIXTURES, from), d, { recursive: true })
    return d
  }
  const editConfig = (dir: string, edit: (c: Record<string, unknown>) => void) => {
    const c = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"))
    edit(c)
    writeFileSync(join(dir, "config.json"), JSON.stringify(c))
  }

  it("unknown model_type", async () => {
    const d = copy("qwen2-bias")
    editConfig(d, (c) => (c["model_type"] = "mistral"))
    await expect(Hf.load(d)).rejects.toThrow(new RegExp(`${d}/config.json: model_type: "mistral" is not supported`))
  })
  it("unsupported rope type", async () => {
    const d = copy("qwen2-bias")
    editConfig(d, (c) => (c["rope_parameters"] = { rope_type: "yarn", rope_theta: 1e6, factor: 4 }))
    await expect(Hf.load(d)).rejects.toThrow(/config.json: rope_parameters.rope_type: "yarn" is not supported/)
  })
  it("shape mismatch names the tensor and the shard", async () => {
    const d = copy("qwen2-bias")
    editConfig(d, (c) => (c["intermediate_size"] = 40))
    await expect(Hf.load(d)).rejects.toThrow(/model.safetensors: model.layers.0.mlp.down_proj.weight: shape \[32,48\] != \[32,40\]/)
  })
  it("missing tensor", async () => {
    const d = copy("qwen2-bias")
    editConfig(d, (c) => (c["tie_word_embeddings"] = false))
    await expect(Hf.load(d)).rejects.toThrow(/lm_head.weight: missing tensor/)
  })
  it("missing shard of an index", async () => {
    const d = copy("llama-gqa")
    rmSync(join(d, "model-00002-of-00004.safetensors"))
    await expect(Hf.load(d)).rejects.toThrow(/model.safetensors.index.json: weight_map: shard model-00002-of-00004.safetensors cannot be read/)
  })
})

describe("Hf.parseConfig", () => {
  const base = { model_type: "llama", vocab_size: 10, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 32 }
  it("reads the pre-5.x rope form (rope_theta + rope_scaling with `type`)", () => {
    const c = Hf.parseConfig({ ...base, rope_theta: 5e5, rope_scaling: { type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } })
    expect(c.ropeTheta).toBe(5e5)
    expect(c.ropeScaling).toEqual({ type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 })
    expect(c.numKeyValueHeads).toBe(2)
    expect(c.headDim).toBe(4)
    expect(c.tieWordEmbeddings).toBe(false)
  })
  it("family flags: Qwen2 q/k/v biases, Qwen3 q/k norms", () => {
    expect(Hf.parseConfig({ ...base, model_type: "qwen2" })).toMatchObject({ qkvBias: true, oBias: false, qkNorm: false })
    expect(Hf.parseConfig({ ...base, model_type: "qwen3" })).toMatchObject({ qkvBias: false, oBias: false, qkNorm: true })
    expect(Hf.parseConfig({ ...base, attention_bias: true })).toMatchObject({ qkvBias: true, oBias: true })
  })
  it("rejects GQA that does not divide, naming the field", () => {
    expect(() => Hf.parseConfig({ ...base, num_key_value_heads: 3 }, "x/config.json")).toThrow(/x\/config.json: \(config\): LlamaConfig.numKeyValueHeads: must divide/)
  })
})
