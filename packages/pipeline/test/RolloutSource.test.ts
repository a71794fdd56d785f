/**
 * RolloutSource against a real `duet serve` (OpenAiServer on loopback): the recipe's sampler, the
 * weights pushed after an update, and the log-probs a server leaves out recomputed locally.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createServer } from "node:http"
import type { Server } from "node:http"
import { existsSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Scope } from "effect"
import { Engine } from "@duet/engine"
import { Checkpoint, Gpt, Hf } from "@duet/model"
import type { Policy } from "@duet/model"
import { OpenAiServer, Sampler } from "@duet/samplers"
import { Recipe, RolloutSource, RunDir, Setup, Tokens, Train } from "../src/index.js"

const codec = Tokens.charCodec("0123456789+-= \n", "\n")
const config = Gpt.makeConfig({ vocabSize: codec.tokenizer.vocabSize, blockSize: 32, nLayer: 1, nHead: 2, nEmbd: 16 })
const stop = codec.stopToken

let dir: string
let served: Policy // what the server starts with
let trained: Policy // the trainer's policy, other weights of the same shape
let server: OpenAiServer.Running
let scope: Scope.Closeable

beforeAll(async () => {
  await Engine.init({ threads: 1 })
  dir = mkdtempSync(join(tmpdir(), "duet-rollout-source-"))
  served = Gpt.init(config, 1)
  trained = Gpt.init(config, 2)
  await Checkpoint.save(join(dir, "served"), { config, params: served.params, tokenizer: codec.tokenizer })
  scope = await Effect.runPromise(Scope.make())
  server = await Effect.runPromise(Scope.provide(scope)(OpenAiServer.serve({ checkpoint: join(dir, "served"), modelName: "tiny" })))
})
afterAll(async () => {
  if (scope) await Effect.runPromise(Scope.close(scope, Exit.void))
  served?.dispose()
  trained?.dispose()
})

const recipeWith = (sampler: unknown): Promise<Recipe.Recipe> => Effect.runPromise(Recipe.decode({ rl: { sampler } }))

/** Two prompts, a group of 4 each (GRPO's layout). */
const request = (seed: number): Sampler.SampleRequest => ({
  prompts: [...Array(4).fill(codec.prompt("12+34=")), ...Array(4).fill(codec.prompt("7-5="))],
  maxTokens: 10,
  temperature: 1,
  topP: 1,
  topK: 0,
  stopTokens: [stop],
  seed
})

const sample = (recipe: Recipe.Recipe, req: Sampler.SampleRequest, policy: Policy = trained) =>
  Effect.runPromise(Effect.provide(Effect.flatMap(Sampler.Sampler, (s) => s.sample(req)), RolloutSource.layer(recipe, () => policy, codec)))

const logprobsUnder = (policy: Policy, req: Sampler.SampleRequest, rows: ReadonlyArray<Sampler.Completion>) =>
  RolloutSource.recomputeLogprobs(policy, req.prompts, rows.map((r) => r.tokens))

const expectClose = (got: ReadonlyArray<Float32Array>, want: ReadonlyArray<Float32Array>) =>
  got.forEach((row, i) => {
    expect(row.length).toBe(want[i]!.length)
    row.forEach((x, j) => expect(x).toBeCloseTo(want[i]![j]!, 4))
  })

/** A proxy in front of duet serve that strips `logprobs` from every choice (a server that returns none). */
const noLogprobsProxy = async (upstream: string): Promise<{ url: string; close: () => Promise<void> }> => {
  const proxy: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const r = await fetch(upstream + req.url!.replace(/^\/v1/, ""), { method: req.method!, headers: { "content-type": "application/json" }, ...(req.method === "POST" ? { body: Buffer.concat(chunks) } : {}) })
    const body = (await r.json()) as { choices?: Array<Record<string, unknown>> }
    for (const c of body.choices ?? []) c.logprobs = null
    res.writeHead(r.status, { "content-type": "application/json" }).end(JSON.stringify(body))
  })
  await new Promise<void>((ok) => proxy.listen(0, "127.0.0.1", ok))
  return {
    url: `http://127.0.0.1:${(proxy.address() as { port: number }).port}/v1`,
    close: () => new Promise((ok) => {
      proxy.closeAllConnections()
      proxy.close(() => ok())
    })
  }
}

describe("RolloutSource", () => {
  it("local (or no rl.sampler): the in-process sampler, and afterUpdate writes nothing", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "duet-rs-local-"))
    for (const recipe of [await Effect.runPromise(Recipe.decode({})), await recipeWith({ kind: "local" })]) {
      const rows = await sample(recipe, request(3))
      const want = await Effect.runPromise(Effect.provide(Effect.flatMap(Sampler.Sampler, (s) => s.sample(request(3))), Sampler.layerLocal(() => trained)))
      expect(rows.map((r) => Array.from(r.tokens))).toEqual(want.map((r) => Array.from(r.tokens)))
      await Effect.runPromise(RolloutSource.afterUpdate(recipe, trained, 1, runDir, codec))
      expect(existsSync(RolloutSource.weightsDir(runDir))).toBe(false)
    }
  })

  it("http: rollouts from duet serve; pushed weights change what it samples (its log-probs become the trainer's)", async () => {
    const recipe = await recipeWith({ kind: "http", baseUrls: [server.baseUrl] }) // model: the server's only one
    const runDir = mkdtempSync(join(tmpdir(), "duet-rs-http-"))
    const before = await sample(recipe, request(5))
    expect(before).toHaveLength(8)
    // the server's log-probs are its own policy's, not the trainer's
    expectClose(before.map((r) => r.logprobs), logprobsUnder(served, request(5), before))
    before.forEach((r) => expect(r.finishReason === "length" ? r.tokens.length === 10 : r.tokens[r.tokens.length - 1] === stop).toBe(true))

    const version = server.stats().weightsVersion
    await Effect.runPromise(RolloutSource.afterUpdate(recipe, trained, 1, runDir, codec))
    expect(server.stats().weightsVersion).toBe(version + 1)
    expect(existsSync(join(RolloutSource.weightsDir(runDir), "config.json"))).toBe(true)

    const after = await sample(recipe, request(5))
    expect(after.map((r) => Array.from(r.tokens))).not.toEqual(before.map((r) => Array.from(r.tokens)))
    expectClose(after.map((r) => r.logprobs), logprobsUnder(trained, request(5), after))
    // a second push overwrites the same directory
    await Effect.runPromise(RolloutSource.afterUpdate(recipe, served, 2, runDir, codec))
    expect(server.stats().weightsVersion).toBe(version + 2)
    expectClose((await sample(recipe, request(5))).map((r) => r.logprobs), before.map((r) => r.logprobs))
  })

  it("http: log-probs the server leaves out are recomputed locally (one finite value per token); recomputeLogprobs redoes all", async () => {
    const proxy = await noLogprobsProxy(server.baseUrl)
    try {
      const recipe = await recipeWith({ kind: "http", baseUrls: [proxy.url], model: "tiny" })
      const rows = await sample(recipe, request(7), trained)
      rows.forEach((r) => expect(r.logprobs.every(Number.isFinite)).toBe(true))
      expectClose(rows.map((r) => r.logprobs), logprobsUnder(trained, request(7), rows))
      // with the server's own log-probs present, recomputeLogprobs replaces them by the trainer's
      const all = await recipeWith({ kind: "http", baseUrls: [server.baseUrl], model: "tiny", recomputeLogprobs: true })
      const direct = await sample(all, request(7), trained)
      expectClose(direct.map((r) => r.logprobs), logprobsUnder(trained, request(7), direct))
    } finally {
      await proxy.close()
    }
  })

  it("http: a push the server refuses fails with its message; pushWeights false pushes nothing", async () => {
    const other = Gpt.init({ ...config, nEmbd: 24, nHead: 2 }, 3)
    try {
      const recipe = await recipeWith({ kind: "http", baseUrls: [server.baseUrl] })
      const exit = await Effect.runPromise(Effect.exit(RolloutSource.afterUpdate(recipe, other, 4, mkdtempSync(join(tmpdir(), "duet-rs-bad-")), codec)))
      expect(exit._tag).toBe("Failure")
      expect(JSON.stringify(exit)).toMatch(/update_weights_from_disk: HTTP 400: .*another config or tokenizer/)
      const off = await recipeWith({ kind: "http", baseUrls: [server.baseUrl], pushWeights: false })
      const runDir = mkdtempSync(join(tmpdir(), "duet-rs-off-"))
      const version = server.stats().weightsVersion
      await Effect.runPromise(RolloutSource.afterUpdate(off, trained, 1, runDir, codec))
      expect(server.stats().weightsVersion).toBe(version)
      expect(existsSync(RolloutSource.weightsDir(runDir))).toBe(false)
    } finally {
      other.dispose()
    }
  })

  it("http with an HF recipe: pushes an HF directory (the layout SGLang loads) with the trained weights, POSTs its path", async () => {
    const source = join(__dirname, "../../model/test/fixtures/hf/qwen2-bias")
    const { policy } = await Hf.load(source)
    const bodies: unknown[] = []
    const sglang: Server = createServer(async (req, res) => {
      const chunks: Buffer[] = []
      for await (const c of req) chunks.push(c as Buffer)
      bodies.push({ route: `${req.method} ${req.url}`, body: JSON.parse(Buffer.concat(chunks).toString()) })
      res.writeHead(200, { "content-type": "application/json" }).end('{"success":true,"message":"Succeeded to update model weights."}')
    })
    await new Promise<void>((ok) => sglang.listen(0, "127.0.0.1", ok))
    try {
      const url = `http://127.0.0.1:${(sglang.address() as { port: number }).port}/v1`
      const recipe = { ...Recipe.defaults, model: { hf: source, blockSize: 32 }, rl: { ...Recipe.defaults.rl, sampler: { kind: "http", baseUrls: [url] } } } as unknown as Recipe.Recipe
      const runDir = mkdtempSync(join(tmpdir(), "duet-rs-hf-"))
      await Effect.runPromise(RolloutSource.afterUpdate(recipe, policy, 3, runDir, codec))
      expect(bodies).toEqual([{ route: "POST /update_weights_from_disk", body: { model_path: RolloutSource.weightsDir(runDir) } }])
      const pushed = await Hf.load(RolloutSource.weightsDir(runDir))
      expect(existsSync(join(RolloutSource.weightsDir(runDir), "tokenizer.json"))).toBe(true)
      for (const [name, v] of policy.params) expect(Array.from(pushed.policy.params.get(name)!.dataSync())).toEqual(Array.from(v.dataSync()))
      pushed.policy.dispose()
    } finally {
      policy.dispose()
      await new Promise<void>((ok) => sglang.close(() => ok()))
    }
  })

  it("duet train with rl.sampler http: every step's rollouts come from the server, which gets the weights before RL and after each update", async () => {
    const recipe = Effect.runSync(
      Recipe.load(undefined, undefined, [
        'task={"kind":"arithmetic","ops":["+"],"digits":{"min":1,"max":1},"oodDigits":{"min":2,"max":2},"reversed":false}',
        "sft.steps=20",
        "sft.target=false",
        "sft.examples=40",
        "rl.trainProblems=40",
        "rl.promptsPerStep=16",
        "rl.steps=3",
        "rl.sampling.maxTokens=4",
        "eval.problems=4",
        "eval.n=2",
        "eval.sampling.maxTokens=4"
      ])
    )
    const setup = await Effect.runPromise(Setup.make(recipe))
    // the server starts from other weights of the run's shape: the push before RL must replace them
    const start = Gpt.init(setup.modelConfig, 99)
    const startDir = join(mkdtempSync(join(tmpdir(), "duet-rs-train-")), "start")
    await Checkpoint.save(startDir, { config: setup.modelConfig, params: start.params, tokenizer: setup.codec.tokenizer })
    start.dispose()
    const trainScope = await Effect.runPromise(Scope.make())
    try {
      const own = await Effect.runPromise(Scope.provide(trainScope)(OpenAiServer.serve({ checkpoint: startDir, modelName: "run" })))
      const runDir = mkdtempSync(join(tmpdir(), "duet-rs-train-run-"))
      const http = { ...recipe, rl: { ...recipe.rl, sampler: { kind: "http" as const, baseUrls: [own.baseUrl] } } }
      await Effect.runPromise(Train.train(http, { runDir }))
      const stats = own.stats()
      expect(stats.weightsVersion).toBe(1 + 3) // before RL, then after each of the 3 updates
      expect(stats.rows).toBe(3 * 16 * 2) // 3 steps x 16 prompts x 2 rollouts, nothing else sampled there
      const rl = (await Effect.runPromise(RunDir.readMetrics(runDir))).filter((r) => r.kind === "rl")
      expect(rl.map((r) => r.rollouts)).toEqual([32, 32, 32])
      // the server ends on the trained policy: its log-probs are the final checkpoint's
      const final = await Checkpoint.load(join(runDir, "checkpoints", "step-000003"))
      const trainedPolicy = Gpt.fromParams(final.config, final.params)
      Checkpoint.dispose(final)
      try {
        const req = { ...request(13), prompts: [setup.codec.prompt("3+4="), setup.codec.prompt("3+4=")], stopTokens: [setup.codec.stopToken], maxTokens: 4 }
        const rows = await sample(http, req, trainedPolicy)
        expectClose(rows.map((r) => r.logprobs), RolloutSource.recomputeLogprobs(trainedPolicy, req.prompts, rows.map((r) => r.tokens)))
      } finally {
        trainedPolicy.dispose()
      }
    } finally {
      await Effect.runPromise(Scope.close(trainScope, Exit.void))
    }
  }, 120_000)

  it("recipe: rl.sampler is checked at decode (an empty baseUrls, an unknown kind) with its path", async () => {
    await expect(recipeWith({ kind: "http", baseUrls: [] })).rejects.toThrow(/rl\.sampler/)
    await expect(recipeWith({ kind: "grpc", baseUrls: ["x"] })).rejects.toThrow(/rl\.sampler/)
  })
})
