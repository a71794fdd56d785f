import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Engine } from "@duet/engine"
import { Hf, Sampler } from "@duet/model"

/**
 * `duet score` and `duet sample` (built binary) on the tiny random HF fixtures, against what
 * transformers computed for them (tools/hf-fixtures/make_fixtures.py -> reference.json).
 */
const bin = fileURLToPath(new URL("../bin/duet.js", import.meta.url))
const fixture = (name: string) => fileURLToPath(new URL(`../../../packages/model/test/fixtures/hf/${name}`, import.meta.url))
const duet = (args: string[], stdin: string) => {
  const r = spawnSync(process.execPath, [bin, ...args], { input: stdin, encoding: "utf8" })
  return { code: r.status, out: r.stdout, err: r.stderr }
}
interface Reference {
  rows: Array<{ prompt: string; completion: string; promptIds: number[]; completionIds: number[]; logprobs: number[]; greedy: number[] }>
}
const reference = (name: string) => JSON.parse(readFileSync(`${fixture(name)}/reference.json`, "utf8")) as Reference
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n"
const lines = (out: string) => out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)

// llama-gqa: the post-processor prepends BOS; qwen2-bias: ChatML, no BOS, F16 weights.
describe.each(["llama-gqa", "qwen2-bias"])("duet score / sample on %s", (name) => {
  const ref = reference(name)
  it("score: the completion's ids and transformers' log-probs within 1e-4, one line per row in order", () => {
    const r = duet(["score", "--model", fixture(name), "--batch-size", "3"], jsonl(ref.rows.map((x) => ({ prompt: x.prompt, completion: x.completion }))))
    expect(r.err).toBe("")
    expect(r.code).toBe(0)
    const got = lines(r.out) as Array<{ tokens: number[]; logprobs: number[] }>
    expect(got).toHaveLength(ref.rows.length)
    got.forEach((g, i) => {
      expect(g.tokens).toEqual(ref.rows[i]!.completionIds)
      const diff = Math.max(...g.logprobs.map((lp, j) => Math.abs(lp - ref.rows[i]!.logprobs[j]!)))
      expect(diff).toBeLessThan(1e-4)
    })
  }, 60_000)
  it("sample --temperature 0: transformers' greedy tokens; sampled rows do not depend on --batch-size", () => {
    const prompts = jsonl(ref.rows.map((x) => ({ prompt: x.prompt })))
    const r = duet(["sample", "--model", fixture(name), "--temperature", "0", "--max-tokens", "10"], prompts)
    expect(r.err).toBe("")
    const got = lines(r.out) as Array<{ text: string; tokens: number[]; logprobs: number[]; finish_reason: string }>
    got.forEach((g, i) => {
      expect(g.tokens).toEqual(ref.rows[i]!.greedy)
      expect(g.logprobs).toHaveLength(10)
      expect(g.finish_reason).toBe("length")
      expect(typeof g.text).toBe("string")
    })
    if (name !== "llama-gqa") return
    // the same draws whatever the batching (log-probs equal up to float32 GEMM blocking)
    const hot = (batch: string) => lines(duet(["sample", "--model", fixture(name), "--max-tokens", "6", "--seed", "7", "--batch-size", batch], prompts).out) as Array<{ tokens: number[]; logprobs: number[] }>
    const [one, three] = [hot("1"), hot("3")]
    expect(three.map((x) => x.tokens)).toEqual(one.map((x) => x.tokens))
    three.forEach((x, i) => x.logprobs.forEach((lp, j) => expect(lp).toBeCloseTo(one[i]!.logprobs[j]!, 4)))
    expect(new Set(one.map((x) => x.tokens.join(","))).size).toBe(one.length) // rows draw from different streams
  }, 60_000)
})

describe("duet sample --chat", () => {
  it("renders the chat template with the generation prompt (as the in-process sampler on the rendered ids)", async () => {
    const dir = fixture("qwen2-bias")
    const r = duet(["sample", "--model", dir, "--chat", "--temperature", "0", "--max-tokens", "8"], jsonl([{ prompt: "What is 2 + 3?" }]))
    expect(r.err).toBe("")
    const [got] = lines(r.out) as Array<{ tokens: number[]; finish_reason: string }>
    await Engine.init({ threads: 1 })
    const { policy, tokenizer } = await Hf.load(dir)
    const text = tokenizer!.applyChatTemplate([{ role: "user", content: "What is 2 + 3?" }], { addGenerationPrompt: true })
    expect(text).toContain("<|im_start|>assistant")
    const [want] = Sampler.sample(policy, [tokenizer!.encode(text)], { maxTokens: 8, temperature: 0, stopTokens: tokenizer!.stopTokens, seed: 0 })
    expect(got!.tokens).toEqual(Array.from(want!.tokens))
    expect(got!.finish_reason).toBe(want!.finishReason)
    policy.dispose()
  }, 60_000)
})

describe("duet score / sample: bad input is one line naming the line, file or field, exit 2", () => {
  it("a row without a completion, a non-JSON line, an unsupported model, --help", () => {
    const dir = fixture("llama-gqa")
    const missing = duet(["score", "--model", dir], jsonl([{ prompt: "a", completion: "b" }, { prompt: "a" }]))
    expect(missing.code).toBe(2)
    expect(missing.err).toMatch(/^duet score: stdin:2: "completion" must be a string, got nothing\n$/)
    const notJson = duet(["sample", "--model", dir, "--max-tokens", "2"], '{"prompt":"a"}\n{oops\n')
    expect(notJson.code).toBe(2)
    expect(notJson.err).toMatch(/^duet sample: stdin:2: not valid JSON/)
    const notModel = duet(["score", "--model", fileURLToPath(new URL(".", import.meta.url))], jsonl([{ prompt: "a", completion: "b" }]))
    expect(notModel.code).toBe(2)
    expect(notModel.err).toMatch(/config\.json: \(file\): cannot be read/)
    for (const cmd of ["score", "sample"]) {
      const help = duet([cmd, "--help"], "")
      expect(help.code).toBe(0)
      expect(help.out).toContain("--model")
    }
  }, 60_000)
})
