import { afterAll, beforeAll, describe, expect, it } from "vitest"
import OpenAI from "openai"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Checkpoint, Gpt, Tokenizer } from "@duet/model"
import type { Policy } from "@duet/model"
import { alphabet, config, localLogprobs, post, startServer, tinyCheckpoint, tokenizer } from "./Fixtures.js"

let server: Awaited<ReturnType<typeof startServer>>
let policy: Policy
let dir: string
const completions = (body: Record<string, unknown>) => post(`${server.baseUrl}/completions`, { model: "tiny", ...body })

beforeAll(async () => {
  ;({ dir, policy } = await tinyCheckpoint(1))
  server = await startServer({ checkpoint: dir, port: 0, modelName: "tiny", batchWindowMs: 20 })
})
afterAll(async () => {
  await server?.close()
  policy?.dispose()
})

describe("OpenAiServer", () => {
  it("lists its model and answers /health", async () => {
    const models = (await (await fetch(`${server.baseUrl}/models`)).json()) as { data: Array<{ id: string; max_model_len: number }> }
    expect(models.data.map((m) => m.id)).toEqual(["tiny"])
    expect(models.data[0].max_model_len).toBe(32)
    const health = await fetch(server.baseUrl.replace(/\/v1$/, "/health"))
    expect(health.status).toBe(200)
    expect(server.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/)
  })

  it("completes text prompts: n choices, seeded, token ids and the policy's own log-probs, top logprobs", async () => {
    const body = { prompt: "12+3=", n: 3, max_tokens: 8, temperature: 1, seed: 5, logprobs: 2, return_token_ids: true, ignore_eos: true }
    const a = await completions(body)
    expect(a.status).toBe(200)
    expect(a.json.choices).toHaveLength(3)
    expect((await completions(body)).json.choices).toEqual(a.json.choices)
    expect((await completions({ ...body, seed: 6 })).json.choices).not.toEqual(a.json.choices)
    const prompt = Int32Array.from([tokenizer.bos, ...tokenizer.encode("12+3=")])
    for (const [i, c] of a.json.choices.entries()) {
      expect(c.index).toBe(i)
      expect(c.prompt_token_ids).toEqual(Array.from(prompt))
      expect(c.token_ids).toHaveLength(8)
      expect(c.finish_reason).toBe("length")
      expect(c.text).toBe(tokenizer.decode(c.token_ids))
      const local = localLogprobs(policy, prompt, Int32Array.from(c.token_ids))
      c.logprobs.token_logprobs.forEach((lp: number, j: number) => expect(lp).toBeCloseTo(local[j]!, 4))
      expect(c.logprobs.tokens.join("")).toBe(c.text)
      for (const [j, top] of c.logprobs.top_logprobs.entries()) {
        const values = Object.values(top) as number[]
        expect(values.length).toBeGreaterThanOrEqual(2)
        expect(values.length).toBeLessThanOrEqual(3) // the top 2, plus the sampled token when it is not among them
        expect(Math.max(...values)).toBeGreaterThanOrEqual(c.logprobs.token_logprobs[j] - 1e-6)
      }
    }
    expect(a.json.usage).toEqual({ prompt_tokens: 6, completion_tokens: 24, total_tokens: 30 })
  })

  it("batches concurrent requests and gives each the completions it gets alone", async () => {
    const bodies = [0, 1, 2, 3].map((s) => ({ prompt: [[1, 4, 5], [1, 6]], n: 2, max_tokens: 4 + s, seed: 100 + s, return_token_ids: true, ignore_eos: true }))
    const alone = []
    for (const b of bodies) alone.push((await completions(b)).json.choices)
    const before = server.stats()
    const together = await Promise.all(bodies.map((b) => completions(b)))
    const after = server.stats()
    expect(together.map((r) => r.json.choices)).toEqual(alone)
    expect(after.requests - before.requests).toBe(4)
    expect(after.batches - before.batches).toBeLessThan(4)
    alone.forEach((choices, s) => choices.forEach((c: { token_ids: number[] }) => expect(c.token_ids).toHaveLength(4 + s)))
  })

  it("stops on stop strings and stop tokens: token ids keep the stop, text drops it", async () => {
    const greedy = await completions({ prompt: "7", max_tokens: 12, temperature: 0, ignore_eos: true, return_token_ids: true })
    const full: string = greedy.json.choices[0].text
    expect(full).toHaveLength(12)
    const stop = full.slice(3, 5)
    const cut = await completions({ prompt: "7", max_tokens: 12, temperature: 0, ignore_eos: true, stop: [stop], return_token_ids: true })
    const c = cut.json.choices[0]
    expect(c.finish_reason).toBe("stop")
    expect(c.stop_reason).toBe(stop)
    expect(c.text).toBe(full.slice(0, full.indexOf(stop)))
    expect(tokenizer.decode(c.token_ids)).toBe(full.slice(0, full.indexOf(stop) + 2))
    const byId = await completions({ prompt: "7", max_tokens: 12, temperature: 0, ignore_eos: true, stop_token_ids: Array.from(tokenizer.encode(full[4]!)), return_token_ids: true })
    const d = byId.json.choices[0]
    expect(d.finish_reason).toBe("stop")
    expect(tokenizer.decode(d.token_ids)).toBe(full.slice(0, full.indexOf(full[4]!) + 1))
    expect(d.text).toBe(full.slice(0, full.indexOf(full[4]!)))
  })

  it("returns OpenAI-shaped errors", async () => {
    const chat = await post(`${server.baseUrl}/chat/completions`, { model: "tiny", messages: [{ role: "user", content: "1+1=" }] })
    expect(chat.status).toBe(400)
    expect(chat.json.error.code).toBe("chat_template_missing")
    expect(chat.json.error.message).toMatch(/no chat template; use \/v1\/completions/)
    const cases: Array<[Record<string, unknown> | string, number, RegExp]> = [
      [{ prompt: "1+1=", temperature: -1 }, 400, /temperature must be/],
      [{ prompt: "1+1=", top_p: 0 }, 400, /top_p must be in/],
      [{ prompt: "1+1=", max_tokens: 1000 }, 400, /max_tokens 1000 exceeds/],
      [{ prompt: "abc" }, 400, /character "a" at index 0 is not in the alphabet/],
      [{ prompt: "1".repeat(40) }, 400, /maximum context length is 32/],
      [{ prompt: [1, 99] }, 400, /token 99 at 1 is outside/],
      [{ prompt: "1", n: 5000 }, 400, /the limit is 1024/],
      [{ prompt: "1", model: "gpt-4" }, 404, /does not exist/],
      [{ prompt: "1", stream: true }, 400, /stream is not supported/],
      ["{not json", 400, /not valid JSON/]
    ]
    for (const [body, status, message] of cases) {
      const r = typeof body === "string" ? await post(`${server.baseUrl}/completions`, body) : await completions(body)
      expect(r.status, JSON.stringify(body)).toBe(status)
      expect(r.json.error.message).toMatch(message)
      expect(r.json.error.type).toMatch(/_error$/)
    }
    const big = await post(`${server.baseUrl}/completions`, { prompt: "1", pad: "x".repeat(2 << 20) })
    expect(big.status).toBe(413)
    const missing = await fetch(`${server.baseUrl}/embeddings`, { method: "POST", body: "{}" })
    expect(missing.status).toBe(404)
  })

  it("reloads weights from disk in place (SGLang's update_weights_from_disk) and refuses another shape", async () => {
    const { dir: other, policy: p2 } = await tinyCheckpoint(2)
    const body = { prompt: "5-", max_tokens: 6, seed: 1, logprobs: 0, return_token_ids: true, ignore_eos: true }
    const reloadUrl = server.baseUrl.replace(/\/v1$/, "/update_weights_from_disk")
    const ok = await post(reloadUrl, { model_path: other })
    expect(ok.status).toBe(200)
    expect(ok.json.success).toBe(true)
    const after = (await completions(body)).json.choices[0]
    const prompt = Int32Array.from([1, ...tokenizer.encode("5-")])
    localLogprobs(p2, prompt, Int32Array.from(after.token_ids)).forEach((lp, j) => expect(after.logprobs.token_logprobs[j]).toBeCloseTo(lp, 4))
    const bad = await post(reloadUrl, { model_path: join(other, "nope") })
    expect(bad.status).toBe(400)
    expect(bad.json.success).toBe(false)
    const wide = Gpt.init({ ...config, nEmbd: 32 }, 3)
    await Checkpoint.save(join(other, "..", "wide"), { config: wide.config, params: wide.params, tokenizer: Tokenizer.CharTokenizer.fromAlphabet(alphabet) })
    const shape = await post(reloadUrl, { model_path: join(other, "..", "wide") })
    expect(shape.status).toBe(400)
    expect(shape.json.message).toMatch(/another config or tokenizer/)
    expect((await post(reloadUrl, { model_path: dir })).json.success).toBe(true)
    expect(server.stats().weightsVersion).toBe(2)
    p2.dispose()
    wide.dispose()
  })

  it("works with the official openai npm client: completions, n, logprobs, models, errors", async () => {
    const client = new OpenAI({ baseURL: server.baseUrl, apiKey: "unused", maxRetries: 0 })
    const models = await client.models.list()
    expect(models.data.map((m) => m.id)).toEqual(["tiny"])
    const r = await client.completions.create({ model: "tiny", prompt: "3+4=", n: 2, max_tokens: 5, logprobs: 1, seed: 3 })
    expect(r.choices).toHaveLength(2)
    for (const c of r.choices) {
      expect(c.logprobs?.token_logprobs).toHaveLength(c.logprobs!.tokens!.length)
      expect(["stop", "length"]).toContain(c.finish_reason)
    }
    await expect(client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hi" }] })).rejects.toMatchObject({
      status: 400,
      code: "chat_template_missing"
    })
    await expect(client.completions.create({ model: "tiny", prompt: "1", temperature: -2 })).rejects.toMatchObject({ status: 400, param: "temperature" })
  })
})
