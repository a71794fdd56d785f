/**
 * Offline DPO on a pairs file made from a tiny checkpoint's own samples: the loss starts at log 2
 * (policy = reference), falls, and the chosen-vs-rejected margin grows, on the whole file too.
 */
import { beforeAll, describe, expect, it } from "vitest"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { Engine } from "@duet/engine"
import { Checkpoint, Gpt } from "@duet/model"
import { Sampler } from "@duet/samplers"
import { OfflineDpo, Tokens, Update } from "../src/index.js"

const codec = Tokens.charCodec("0123456789+-= \n", "\n")
const config = Gpt.makeConfig({ vocabSize: codec.tokenizer.vocabSize, blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 16 })
const dir = mkdtempSync(join(tmpdir(), "duet-offline-dpo-"))
const init = join(dir, "init")
const pairsFile = join(dir, "pairs.jsonl")
let pairs: OfflineDpo.Pair[] = []

beforeAll(async () => {
  await Engine.init({ threads: 1 })
  const policy = Gpt.init(config, 7)
  await Checkpoint.save(init, { config, params: policy.params, tokenizer: codec.tokenizer, meta: { stop: "\n" } })
  // what `duet pairs` does, in-process: 16 one-token samples per prompt, graded, discordant ones paired
  const problems = Array.from({ length: 48 }, (_, i) => ({ prompt: `${i % 5}+${(i * 3) % 5}=`, answer: String((i % 5) + ((i * 3) % 5)) }))
  const prompts = problems.flatMap((p) => Array(16).fill(codec.prompt(p.prompt)) as Int32Array[])
  const rows = await Effect.runPromise(
    Effect.provide(
      Effect.flatMap(Sampler.Sampler, (s) => s.sample({ prompts, maxTokens: 1, temperature: 1, topP: 1, topK: 0, stopTokens: [codec.stopToken], seed: 3 })),
      Sampler.layerLocal(() => policy)
    )
  )
  policy.dispose()
  const text = (c: Sampler.Completion) => codec.decode(c.tokens).split("\n")[0]!
  problems.forEach((p, i) => {
    const samples = rows.slice(16 * i, 16 * i + 16).map((c) => ({ text: text(c), correct: text(c).trim() === p.answer }))
    pairs.push(...OfflineDpo.discordantPairs(p.prompt, samples))
  })
  writeFileSync(pairsFile, pairs.map((p) => JSON.stringify(p)).join("\n") + "\n")
})

/** Mean margin beta((c - c_ref) - (r - r_ref)) and accuracy over every pair of the file. */
const marginOnFile = async (checkpoint: string) => {
  const start = await Checkpoint.load(init)
  const after = await Checkpoint.load(checkpoint)
  const ref = Gpt.fromParams(start.config, start.params)
  const pol = Gpt.fromParams(after.config, after.params)
  Checkpoint.dispose(start)
  Checkpoint.dispose(after)
  const prompts = pairs.map((p) => codec.prompt(p.prompt))
  const ids = (t: string) => Int32Array.from([...codec.completion(t), codec.stopToken])
  const chosen = pairs.map((p) => ids(p.chosen))
  const rejected = pairs.map((p) => ids(p.rejected))
  const [pc, pr, rc, rr] = [
    Update.sequenceLogprobSums(pol, prompts, chosen),
    Update.sequenceLogprobSums(pol, prompts, rejected),
    Update.sequenceLogprobSums(ref, prompts, chosen),
    Update.sequenceLogprobSums(ref, prompts, rejected)
  ]
  ref.dispose()
  pol.dispose()
  const m = pairs.map((_, i) => pc[i]! - rc[i]! - (pr[i]! - rr[i]!))
  return { margin: m.reduce((a, b) => a + b, 0) / m.length, accuracy: m.filter((x) => x > 0).length / m.length }
}

describe("OfflineDpo", () => {
  it("discordantPairs: min(correct, incorrect) disjoint pairs", () => {
    const s = (text: string, correct: boolean) => ({ text, correct })
    expect(OfflineDpo.discordantPairs("p", [s("a", true), s("b", false)])).toEqual([{ prompt: "p", chosen: "a", rejected: "b" }])
    expect(OfflineDpo.discordantPairs("p", [s("a", true), s("b", true)])).toEqual([])
    expect(OfflineDpo.discordantPairs("p", [s("x", false), s("a", true), s("y", false), s("b", true), s("c", true)])).toEqual([
      { prompt: "p", chosen: "a", rejected: "x" },
      { prompt: "p", chosen: "b", rejected: "y" }
    ])
  })

  it("sigmoid DPO on the tiny checkpoint's pairs: loss from log 2 down, margin and accuracy up on the whole file", async () => {
    expect(pairs.length).toBeGreaterThanOrEqual(16)
    const out = join(dir, "sigmoid")
    const summary = await Effect.runPromise(OfflineDpo.train({ pairs: pairsFile, init, out, variant: "sigmoid", beta: 0.1, epochs: 4, batchSize: 8, lr: 3e-3, seed: 1 }))
    expect(summary.first.loss).toBeCloseTo(Math.log(2), 5) // policy = reference at step 0
    expect(summary.first.rewardMargin).toBeCloseTo(0, 6)
    expect(summary.last.loss).toBeLessThan(summary.first.loss! - 0.02)
    expect(summary.last.rewardMargin).toBeGreaterThan(0.1)
    const metrics = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    expect(metrics).toHaveLength(summary.steps)
    // on every pair of the file, not only the last batch
    const file = await marginOnFile(summary.checkpoint)
    expect(file.margin).toBeGreaterThan(1)
    expect(file.accuracy).toBeGreaterThan(0.8)
    const saved = await Checkpoint.load(summary.checkpoint)
    expect(saved.meta.stop).toBe("\n")
    expect((saved.meta.dpo as { loss: { name: string } }).loss.name).toBe("sigmoid")
    Checkpoint.dispose(saved)
  })

  it("ipo and hinge train too (finite, margin up)", async () => {
    for (const variant of ["ipo", "hinge"] as const) {
      const s = await Effect.runPromise(OfflineDpo.train({ pairs: pairsFile, init, out: join(dir, variant), variant, epochs: 2, batchSize: 8, lr: 3e-3 }))
      expect(Number.isFinite(s.last.loss)).toBe(true)
      expect(s.last.rewardMargin).toBeGreaterThan(s.first.rewardMargin!)
    }
  })

  it("a bad pairs file fails with file:line and the field; a character outside the vocabulary names the pair", async () => {
    const bad = join(dir, "bad.jsonl")
    const run = (text: string) => {
      writeFileSync(bad, text)
      return Effect.runPromise(Effect.flip(OfflineDpo.train({ pairs: bad, init, out: join(dir, "bad"), variant: "sigmoid" }))).then((e) => e.message)
    }
    expect(await run('{"prompt":"1+1=","chosen":"2","rejected":"3"}\n{"prompt":"1+1=","chosen":"2"}\n')).toBe(`${bad}:2: field "rejected" must be a string, got nothing`)
    expect(await run("{oops\n")).toMatch(new RegExp(`^${bad}:1: not JSON`))
    expect(await run('{"prompt":"1+1=","chosen":[{"role":"assistant","content":"2"}],"rejected":"3"}\n')).toMatch(/conversational pairs/)
    expect(await run('{"prompt":"1+1=","chosen":"two","rejected":"3"}\n')).toMatch(new RegExp(`^${bad}: pair 1, chosen: `))
    expect(await run("\n\n")).toMatch(/no pairs/)
  })
})
