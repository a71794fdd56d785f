import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createServer } from "node:http"
import type { Server } from "node:http"
import { Effect } from "effect"
import type { Policy } from "@duet/model"
import { HttpSampler, Sampler } from "../src/index.js"
import { localLogprobs, startServer, tinyCheckpoint } from "./Fixtures.js"

let server: Awaited<ReturnType<typeof startServer>>
let second: Awaited<ReturnType<typeof startServer>>
let policy: Policy

beforeAll(async () => {
  const ckpt = await tinyCheckpoint(1)
  policy = ckpt.policy
  server = await startServer({ checkpoint: ckpt.dir, modelName: "tiny" })
  second = await startServer({ checkpoint: ckpt.dir, modelName: "tiny" })
})
afterAll(async () => {
  await server?.close()
  await second?.close()
  policy?.dispose()
})

/** Two prompts, a group of 4 rollouts each (GRPO's layout: G copies of a prompt in a row). */
const request = (seed: number): Sampler.SampleRequest => ({
  prompts: [...Array(4).fill(Int32Array.from([1, 4, 5, 15])), ...Array(4).fill(Int32Array.from([1, 6, 16]))],
  maxTokens: 10,
  temperature: 1,
  topP: 1,
  topK: 0,
  stopTokens: [17],
  seed
})

const sample = (options: HttpSampler.Options, req: Sampler.SampleRequest) =>
  Effect.runPromise(Effect.provide(Effect.flatMap(Sampler.Sampler, (s) => s.sample(req)), HttpSampler.layer(options)))

const plain = (rows: ReadonlyArray<Sampler.Completion>) => rows.map((r) => ({ tokens: Array.from(r.tokens), finish: r.finishReason }))

/** Same tokens and finish reasons row by row; log-probs equal up to float rounding (batching changes the last bits). */
const expectSameRows = (got: ReadonlyArray<Sampler.Completion>, want: ReadonlyArray<Sampler.Completion>) => {
  expect(plain(got)).toEqual(plain(want))
  got.forEach((row, i) => row.logprobs.forEach((lp, j) => expect(lp).toBeCloseTo(want[i]!.logprobs[j]!, 5)))
}

describe("HttpSampler against duet serve", () => {
  it("samples groups over HTTP: seeded, the policy's log-probs, stop tokens kept, as the local sampler's semantics", async () => {
    const options = { baseUrls: [server.baseUrl], model: "tiny" }
    const a = await sample(options, request(3))
    expect(a).toHaveLength(8)
    expect(plain(await sample(options, request(3)))).toEqual(plain(a))
    expect(plain(await sample(options, request(4)))).not.toEqual(plain(a))
    const prompts = request(3).prompts
    a.forEach((row, i) => {
      const local = localLogprobs(policy, prompts[i]!, row.tokens)
      row.logprobs.forEach((lp, j) => expect(lp).toBeCloseTo(local[j]!, 4))
      const stopAt = Array.from(row.tokens).indexOf(17)
      if (row.finishReason === "stop") expect(stopAt).toBe(row.tokens.length - 1)
      else expect(row.tokens.length).toBe(10)
    })
    // the rows of a group differ (n samples, not one sample copied n times)
    expect(new Set(a.slice(0, 4).map((r) => Array.from(r.tokens).join(","))).size).toBeGreaterThan(1)
  })

  it("spreads requests over several base URLs, and a dead one loses nothing", async () => {
    const before = [server.stats().requests, second.stats().requests]
    // one request per group, so there are two to spread
    const want = await sample({ baseUrls: [server.baseUrl], model: "tiny", rowsPerRequest: 4 }, request(9))
    expectSameRows(await sample({ baseUrls: [server.baseUrl, second.baseUrl], model: "tiny", rowsPerRequest: 4 }, request(9)), want)
    expect(second.stats().requests).toBeGreaterThan(before[1]!)
    const dead = await deadUrl()
    expectSameRows(await sample({ baseUrls: [dead, server.baseUrl], model: "tiny", backoff: "5 millis", rowsPerRequest: 4 }, request(9)), want)
  })

  it("packs groups into one request up to rowsPerRequest: row i of group g still samples prompt g (choice i * n + j)", async () => {
    const prompts = request(11).prompts
    for (const [rowsPerRequest, requests] of [[8, 1], [4, 2], [1, 2]] as const) {
      const before = server.stats().requests
      const rows = await sample({ baseUrls: [server.baseUrl], model: "tiny", rowsPerRequest }, request(11))
      expect(server.stats().requests - before).toBe(requests)
      expect(rows).toHaveLength(8)
      // the server's log-probs are of the row's own prompt: a row put under the other group's prompt would not match
      rows.forEach((row, i) => {
        const local = localLogprobs(policy, prompts[i]!, row.tokens)
        row.logprobs.forEach((lp, j) => expect(lp).toBeCloseTo(local[j]!, 4))
      })
    }
    expect(HttpSampler.requestGroups(HttpSampler.promptGroups(prompts), 6).map((r) => r.length)).toEqual([1, 1])
    expect(HttpSampler.requestGroups([{ start: 0, end: 2 }, { start: 2, end: 4 }, { start: 4, end: 7 }, { start: 7, end: 9 }], 8).map((r) => r.length)).toEqual([2, 1, 1])
  })

  it("fails at once, with the server's message, on a request the server rejects", async () => {
    const exit = await Effect.runPromise(Effect.exit(Effect.provide(Effect.flatMap(Sampler.Sampler, (s) => s.sample({ ...request(1), temperature: -1 })), HttpSampler.layer({ baseUrls: [server.baseUrl], model: "tiny" }))))
    expect(exit._tag).toBe("Failure")
    expect(JSON.stringify(exit)).toMatch(/HTTP 400: temperature must be a number >= 0/)
  })
})

const deadUrl = async (): Promise<string> => {
  const s = createServer()
  await new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok))
  const port = (s.address() as { port: number }).port
  await new Promise<void>((ok) => s.close(() => ok()))
  return `http://127.0.0.1:${port}/v1`
}

type Fault = "429" | "429-retry-after" | "500" | "drop" | "truncate" | "slow" | "ok"

/** A proxy in front of duet serve that injects the listed faults, in order, then passes requests through. */
const faultyProxy = async (upstream: string, faults: Fault[]): Promise<{ url: string; seen: Fault[]; at: number[]; close: () => Promise<void> }> => {
  const seen: Fault[] = []
  const at: number[] = [] // arrival time of each request (ms)
  const server: Server = createServer(async (req, res) => {
    at.push(performance.now())
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const fault = faults.shift() ?? "ok"
    seen.push(fault)
    if (fault === "429") return res.writeHead(429, { "content-type": "application/json" }).end('{"error":{"message":"rate limited"}}')
    if (fault === "429-retry-after") return res.writeHead(429, { "content-type": "application/json", "retry-after": "1" }).end('{"error":{"message":"slow down"}}')
    if (fault === "500") return res.writeHead(500).end("upstream exploded")
    if (fault === "drop") return req.socket.destroy()
    const r = await fetch(upstream + req.url!.replace(/^\/v1/, ""), { method: req.method!, headers: { "content-type": "application/json" }, body: Buffer.concat(chunks) })
    const text = await r.text()
    if (fault === "slow") await new Promise((ok) => setTimeout(ok, 700))
    if (fault === "truncate") {
      // a server killed mid-response: headers promise the whole body, half arrives, the socket dies
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
      res.write(text.slice(0, text.length >> 1))
      return setTimeout(() => res.socket?.destroy(), 10)
    }
    if (!res.destroyed) res.writeHead(r.status, { "content-type": "application/json" }).end(text)
  })
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok))
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`,
    seen,
    at,
    close: () => new Promise((ok) => {
      server.closeAllConnections()
      server.close(() => ok())
    })
  }
}

describe("HttpSampler under faults", () => {
  it("retries 429, 500, dropped and truncated connections, malformed JSON and timeouts: every row once, the same rows as without faults", async () => {
    const proxy = await faultyProxy(server.baseUrl, ["429", "drop", "500", "truncate", "slow", "429", "ok", "drop", "truncate"])
    try {
      const before = server.stats().requests
      expectSameRows(await sample({ baseUrls: [proxy.url], model: "tiny", timeout: "400 millis", backoff: "5 millis", retries: 8, concurrency: 2, rowsPerRequest: 4 }, request(21)), await sample({ baseUrls: [server.baseUrl], model: "tiny", rowsPerRequest: 4 }, request(21)))
      expect(proxy.seen.filter((f) => f !== "ok").length).toBe(8)
      expect(proxy.seen.length).toBeGreaterThanOrEqual(10) // 2 groups + 8 faults
      expect(server.stats().requests - before).toBeGreaterThanOrEqual(2)
    } finally {
      await proxy.close()
    }
  }, 30_000)

  it("waits at least the Retry-After a 429 asks for (not its own 5 ms backoff), and loses nothing", async () => {
    // one group, so the proxy sees exactly: the 429, then the retry
    const one: Sampler.SampleRequest = { ...request(5), prompts: request(5).prompts.slice(0, 4) }
    const want = await sample({ baseUrls: [server.baseUrl], model: "tiny" }, one)
    const proxy = await faultyProxy(server.baseUrl, ["429-retry-after"])
    try {
      expectSameRows(await sample({ baseUrls: [proxy.url], model: "tiny", backoff: "5 millis", retries: 3 }, one), want)
      expect(proxy.seen).toEqual(["429-retry-after", "ok"])
      // the gap is the schedule's delay, not a speed: Retry-After: 1 means at least 1000 ms
      expect(proxy.at[1]! - proxy.at[0]!).toBeGreaterThanOrEqual(990)
    } finally {
      await proxy.close()
    }
  })

  it("reads Retry-After as seconds or an HTTP date", () => {
    expect(HttpSampler.parseRetryAfter("3")).toBe(3000)
    expect(HttpSampler.parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000)
    expect(HttpSampler.parseRetryAfter(new Date(1_000).toUTCString(), 4_000)).toBe(0)
    expect(HttpSampler.parseRetryAfter("soon")).toBeUndefined()
    expect(HttpSampler.parseRetryAfter(null)).toBeUndefined()
  })

  it("gives up after its retries with the last error", async () => {
    const proxy = await faultyProxy(server.baseUrl, Array(20).fill("500"))
    try {
      const exit = await Effect.runPromise(
        Effect.exit(Effect.provide(Effect.flatMap(Sampler.Sampler, (s) => s.sample(request(1))), HttpSampler.layer({ baseUrls: [proxy.url], model: "tiny", backoff: "1 millis", retries: 2, rowsPerRequest: 4 })))
      )
      expect(exit._tag).toBe("Failure")
      expect(JSON.stringify(exit)).toMatch(/HTTP 500: upstream exploded/)
      expect(proxy.seen.length).toBeLessThanOrEqual(6) // 2 groups x (1 try + 2 retries)
    } finally {
      await proxy.close()
    }
  })
})
