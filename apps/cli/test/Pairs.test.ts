/**
 * `duet pairs` against `duet serve` (built binary, loopback), cross-checked with `duet eval
 * --endpoint` on the same seeds, then `duet dpo` on the pairs it wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Engine } from "@duet/engine"
import { Checkpoint, Gpt, Tokenizer } from "@duet/model"

const bin = fileURLToPath(new URL("../bin/duet.js", import.meta.url))
const duet = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 120_000 })

const dir = mkdtempSync(join(tmpdir(), "duet-pairs-cli-"))
const ckpt = join(dir, "ckpt")
let server: ChildProcess
let baseUrl: string

beforeAll(async () => {
  await Engine.init({ threads: 1 })
  const tokenizer = Tokenizer.CharTokenizer.fromAlphabet("0123456789+-= \n")
  const policy = Gpt.init(Gpt.makeConfig({ vocabSize: tokenizer.vocabSize, blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 16 }), 7)
  await Checkpoint.save(ckpt, { config: policy.config, params: policy.params, tokenizer, meta: { stop: "\n" } })
  policy.dispose()
  let stderr = ""
  ;({ child: server, url: baseUrl } = await new Promise<{ child: ChildProcess; url: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "serve", ckpt, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] })
    child.stderr!.on("data", (d) => (stderr += String(d)))
    child.stdout!.once("data", (d) => resolve({ child, url: String(d).trim() }))
    child.once("exit", (code) => reject(new Error(`duet serve exited with ${code}: ${stderr}`)))
  }))
  // one-digit sums: a random one-token answer is right about 1 time in 15
  writeFileSync(join(dir, "sums.jsonl"), Array.from({ length: 40 }, (_, i) => JSON.stringify({ problem: `${i % 5}+${(i * 3) % 5}=`, answer: String((i % 5) + ((i * 3) % 5)) })).join("\n") + "\n")
}, 60_000)

afterAll(() => {
  if (server?.exitCode === null) server.kill("SIGKILL")
})

describe("duet pairs + duet dpo (built binary, loopback)", () => {
  it("writes TRL DPO JSONL: exactly the discordant pairs of the verified samples (as duet eval grades the same seeds)", () => {
    const sampling = ["--n", "16", "--max-tokens", "1", "--temperature", "1", "--verifier", "exact", "--seed", "5"]
    const r = duet(["pairs", "--endpoint", baseUrl, "--data", join(dir, "sums.jsonl"), ...sampling])
    expect(r.stderr).not.toMatch(/Error/)
    expect(r.status).toBe(0)
    const pairs = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { prompt: string; chosen: string; rejected: string })
    expect(r.stderr).toMatch(new RegExp(`${pairs.length} pairs from 40 problems`))
    for (const p of pairs) {
      expect(Object.keys(p).sort()).toEqual(["chosen", "prompt", "rejected"])
      const [a, b] = p.prompt.replace("=", "").split("+").map(Number)
      expect(p.chosen).toBe(String(a! + b!))
      expect(p.rejected).not.toBe(String(a! + b!))
    }
    // duet eval on the same server, seeds and flags: sum over problems of min(right, wrong)
    const out = join(dir, "eval.jsonl")
    const e = duet(["eval", "--endpoint", baseUrl, "--data", join(dir, "sums.jsonl"), "--out", out, ...sampling])
    expect(e.status).toBe(0)
    const rows = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { correct: number; n: number })
    const want = rows.reduce((s, row) => s + Math.min(row.correct, row.n - row.correct), 0)
    expect(want).toBeGreaterThanOrEqual(10)
    expect(pairs.length).toBe(want)
    writeFileSync(join(dir, "pairs.jsonl"), r.stdout)
  })

  it("duet dpo trains the checkpoint on them: loss from log 2 down, margin up, a checkpoint duet can load", () => {
    const out = join(dir, "dpo")
    const r = duet(["dpo", "--pairs", join(dir, "pairs.jsonl"), "--init", ckpt, "--out", out, "--epochs", "4", "--batch-size", "8", "--lr", "3e-3"])
    expect(r.stderr).not.toMatch(/Error/)
    expect(r.status).toBe(0)
    const m = r.stdout.match(/loss (\S+) -> (\S+), reward margin (\S+) -> (\S+), accuracy/)!
    expect(Number(m[1])).toBeCloseTo(Math.log(2), 4)
    expect(Number(m[2])).toBeLessThan(Number(m[1]))
    expect(Number(m[3])).toBeCloseTo(0, 6)
    expect(Number(m[4])).toBeGreaterThan(0)
    expect(existsSync(join(out, "checkpoint", "config.json"))).toBe(true)
    expect(readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").length).toBeGreaterThan(4)
  })

  it("bad input: --n 1, a pairs line without rejected (file:line), exit 2", () => {
    const r = duet(["pairs", "--endpoint", baseUrl, "--data", join(dir, "sums.jsonl"), "--n", "1"])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/--n must be >= 2/)
    const bad = join(dir, "bad.jsonl")
    writeFileSync(bad, '{"prompt":"1+1=","chosen":"2","rejected":"3"}\n{"prompt":"1+1=","chosen":"2"}\n')
    const d = duet(["dpo", "--pairs", bad, "--init", ckpt, "--out", join(dir, "bad")])
    expect(d.status).toBe(2)
    expect(d.stderr).toContain(`${bad}:2: field "rejected" must be a string, got nothing`)
  })
})
