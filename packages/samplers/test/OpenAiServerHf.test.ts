/**
 * duet serve over a Hugging Face directory (a tiny Qwen2 fixture): greedy completions equal
 * transformers' (the fixture's recorded `greedy` ids), string prompts encoded as HF does, chat
 * completions through the model's chat template with the official openai client, weight reloads.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import OpenAI from "openai"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Engine } from "@duet/engine"
import { Hf, HfCheckpoint, Llama } from "@duet/model"
import { post, startServer, tinyCheckpoint } from "./Fixtures.js"

const dir = fileURLToPath(new URL("../../model/test/fixtures/hf/qwen2-bias", import.meta.url))
const reference = JSON.parse(readFileSync(join(dir, "reference.json"), "utf8")) as {
  rows: Array<{ prompt: string; promptIds: number[]; greedy: number[] }>
}
let server: Awaited<ReturnType<typeof startServer>>

beforeAll(async () => {
  await Engine.init({ threads: 1 })
  server = await startServer({ checkpoint: dir })
})
afterAll(async () => {
  await server?.close()
})

describe("duet serve over an HF directory", () => {
  it("greedy completions from token ids equal transformers' (the fixture's greedy ids); string prompts are encoded as HF does", async () => {
    expect(((await (await fetch(`${server.baseUrl}/models`)).json()) as { data: Array<{ id: string }> }).data[0]!.id).toBe("qwen2-bias")
    for (const row of reference.rows) {
      const r = await post(`${server.baseUrl}/completions`, { prompt: row.promptIds, max_tokens: row.greedy.length, temperature: 0, ignore_eos: true, return_token_ids: true })
      expect(r.status).toBe(200)
      expect(r.json.choices[0].token_ids).toEqual(row.greedy)
      const s = await post(`${server.baseUrl}/completions`, { prompt: row.prompt, max_tokens: 1, temperature: 0, return_token_ids: true })
      expect(s.json.choices[0].prompt_token_ids).toEqual(row.promptIds)
    }
  })

  it("chat completions with the official openai client: the chat template's prompt, an assistant message, chat log-probs", async () => {
    const client = new OpenAI({ baseURL: server.baseUrl, apiKey: "unused", maxRetries: 0 })
    const messages = [{ role: "user" as const, content: "What is 12 + 7?" }]
    const r = await client.chat.completions.create({
      model: "qwen2-bias",
      messages,
      max_tokens: 4,
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
      n: 2,
      // vLLM's extension, so the prompt ids can be checked
      ...({ return_token_ids: true } as object)
    })
    expect(r.object).toBe("chat.completion")
    expect(r.choices).toHaveLength(2)
    const { tokenizer } = await Hf.load(dir).then((l) => {
      l.policy.dispose()
      return l
    })
    const want = Array.from(tokenizer!.encode(tokenizer!.applyChatTemplate(messages, { addGenerationPrompt: true })))
    for (const c of r.choices) {
      expect(c.message.role).toBe("assistant")
      expect(typeof c.message.content).toBe("string")
      expect((c as unknown as { prompt_token_ids: number[] }).prompt_token_ids).toEqual(want)
      const ids = (c as unknown as { token_ids: number[] }).token_ids
      expect(c.logprobs!.content!).toHaveLength(ids.length)
      for (const t of c.logprobs!.content!) {
        expect(t.top_logprobs).toHaveLength(2)
        expect(t.logprob).toBeLessThanOrEqual(0)
      }
    }
    // temperature 0: both choices greedy
    expect(r.choices[0]!.message.content).toBe(r.choices[1]!.message.content)
    await expect(client.chat.completions.create({ model: "qwen2-bias", messages: [] })).rejects.toThrow(/messages must be a non-empty list/)
  })

  it("reloads HF weights pushed in place (HfCheckpoint), and refuses a checkpoint of another shape", async () => {
    const { policy } = await Hf.load(dir)
    const scaled = new Map([...policy.params].map(([name, v]) => [name, v.mul(0.5)]))
    const other = policy.withParams(scaled) as Llama.Policy
    for (const t of scaled.values()) t.dispose()
    const pushed = join(mkdtempSync(join(tmpdir(), "duet-serve-hf-")), "weights")
    await HfCheckpoint.save(pushed, other, { sourceDir: dir, meta: {} })
    const row = reference.rows[0]!
    const body = { prompt: row.promptIds, max_tokens: 3, temperature: 0, ignore_eos: true, logprobs: 0, return_token_ids: true }
    const before = (await post(`${server.baseUrl}/completions`, body)).json.choices[0]
    const r = await post(server.baseUrl.replace(/\/v1$/, "/update_weights_from_disk"), { model_path: pushed })
    expect(r.json).toMatchObject({ success: true, weight_version: 1 })
    const after = (await post(`${server.baseUrl}/completions`, body)).json.choices[0]
    expect(after.logprobs.token_logprobs).not.toEqual(before.logprobs.token_logprobs)
    const tiny = await tinyCheckpoint(3)
    const refused = await post(server.baseUrl.replace(/\/v1$/, "/update_weights_from_disk"), { model_path: tiny.dir })
    tiny.policy.dispose()
    expect(refused.status).toBe(400)
    expect(refused.json.message).toMatch(/another config or tokenizer/)
    policy.dispose()
    other.dispose()
  })
})
