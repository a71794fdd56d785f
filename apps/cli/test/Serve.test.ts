import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { Engine } from "@duet/engine"
import { HttpSampler, Sampler } from "@duet/samplers"
import { Checkpoint, Gpt, Tokenizer } from "@duet/model"

const bin = fileURLToPath(new URL("../bin/duet.js", import.meta.url))
const duet = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 120_000 })

const dir = mkdtempSync(join(tmpdir(), "duet-serve-cli-"))
let server: ChildProcess
let baseUrl: string
let stderr = ""

/** Starts `duet serve` on a free port; resolves with the base URL it prints. */
const serve = (checkpoint: string) =>
  new Promise<{ child: ChildProcess; url: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "serve", checkpoint, "--port", "0", "--served-model-name", "tiny"], { stdio: ["ignore", "pipe", "pipe"] })
    child.stderr!.on("data", (d) => (stderr += String(d)))
    child.stdout!.once("data", (d) => resolve({ child, url: String(d).trim() }))
    child.once("exit", (code) => reject(new Error(`duet serve exited with ${code}: ${stderr}`)))
  })

const complete = async (body: Record<string, unknown>) =>
  (await (await fetch(`${baseUrl}/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "tiny", ...body }) })).json()) as {
    choices: Array<{ text: string }>
  }

beforeAll(async () => {
  await Engine.init({ threads: 1 })
  const tokenizer = Tokenizer.CharTokenizer.fromAlphabet("0123456789+-=")
  const policy = Gpt.init(Gpt.makeConfig({ vocabSize: tokenizer.vocabSize, blockSize: 24, nLayer: 1, nHead: 2, nEmbd: 16 }), 4)
  await Checkpoint.save(join(dir, "ckpt"), { config: policy.config, params: policy.params, tokenizer })
  policy.dispose()
  ;({ child: server, url: baseUrl } = await serve(join(dir, "ckpt")))
}, 60_000)

afterAll(() => {
  if (server.exitCode === null) server.kill("SIGKILL")
})

describe("duet serve + duet eval --endpoint (built binary, loopback)", () => {
  it("serves on loopback and evaluates a JSONL set: Mean@n / Pass@n, per-problem JSONL, resumable", async () => {
    expect(baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/)
    // gold of problem 1 = the greedy answer (always right at temperature 0), problem 2's can never be produced
    const greedy = (await complete({ prompt: "1+2=", max_tokens: 4, temperature: 0, ignore_eos: true })).choices[0]!.text
    const data = join(dir, "set.jsonl")
    writeFileSync(data, `{"problem":"1+2=","answer":"${greedy}"}\n{"problem":"3+4=","answer":"not a number"}\n`)
    const out = join(dir, "out.jsonl")
    const args = ["eval", "--endpoint", baseUrl, "--data", data, "--n", "3", "--temperature", "0", "--max-tokens", "4", "--verifier", "exact", "--out", out]
    const r = duet(args)
    expect(r.stderr).not.toMatch(/Error/)
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/Mean@3 50\.0%  Pass@1 50\.0%  Pass@2 50\.0%  Pass@3 50\.0%  \(2 problems, 2 asked in [\d.]+s, 0 resumed\)/)
    const rows = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { id: string; correct: number; samples: unknown[] })
    expect(rows.map((x) => x.correct).sort()).toEqual([0, 3])
    expect(rows.every((x) => x.samples.length === 3)).toBe(true)

    // an interrupted run: one row lost, the next one half written; the rerun asks only for the missing problem
    const [first] = readFileSync(out, "utf8").split("\n")
    writeFileSync(out, first + "\n" + '{"id":"half')
    const again = duet(args)
    expect(again.status).toBe(0)
    expect(again.stdout).toMatch(/Mean@3 50\.0% .*\(2 problems, 1 asked in [\d.]+s, 1 resumed\)/)
    expect(readFileSync(out, "utf8").trim().split("\n")).toHaveLength(2)
    const done = duet(args)
    expect(done.stdout).toMatch(/0 asked in [\d.]+s, 2 resumed/)
  }, 120_000)

  it("reports bad input on one line with exit code 2", () => {
    const r = duet(["eval", "--endpoint", baseUrl])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/--endpoint needs --data FILE/)
    const data = join(dir, "letters.jsonl")
    writeFileSync(data, '{"problem":"what is x?","answer":"1"}\n')
    const bad = duet(["eval", "--endpoint", baseUrl, "--data", data, "--out", join(dir, "letters.out.jsonl")])
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/problem .*letters.jsonl:1: HTTP 400: prompt 0: .*character "w" at index 0 is not in the alphabet/)
  })

  it("the HTTP sampler loses no rollout when one of its servers is killed mid-batch", async () => {
    const victim = await serve(join(dir, "ckpt"))
    const prompts = Array.from({ length: 48 }, (_, i) => Int32Array.from([1, 3 + (i % 10), 13, 3 + ((i * 7) % 10), 15])).flatMap((p) => [p, p])
    const request = { prompts, maxTokens: 8, temperature: 1, topP: 1, topK: 0, stopTokens: [], seed: 11 }
    const sample = (baseUrls: string[]) =>
      Effect.runPromise(Effect.provide(Effect.flatMap(Sampler.Sampler, (s) => s.sample(request)), HttpSampler.layer({ baseUrls, model: "tiny", backoff: "10 millis", concurrency: 16 })))
    const want = await sample([baseUrl])
    const pending = sample([victim.url, baseUrl])
    setTimeout(() => victim.child.kill("SIGKILL"), 30)
    const got = await pending
    expect(victim.child.signalCode ?? (await new Promise((r) => victim.child.once("exit", (_c, sig) => r(sig))))).toBe("SIGKILL")
    expect(got.map((r) => Array.from(r.tokens))).toEqual(want.map((r) => Array.from(r.tokens)))
  }, 60_000)

  it("shuts down cleanly on SIGTERM", async () => {
    const exited = new Promise<number | null>((resolve) => server.once("exit", (code) => resolve(code)))
    server.kill("SIGTERM")
    expect(await exited).toBe(130) // interrupted by the signal, after the scope closed (the log line below)
    expect(stderr).toMatch(/duet serve: tiny at http:\/\/127\.0\.0\.1:\d+\/v1/)
    expect(stderr).toMatch(/stopped after \d+ requests/)
  }, 30_000)
})
