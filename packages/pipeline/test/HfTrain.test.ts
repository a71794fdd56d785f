import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Recipe, RunDir, Train } from "../src/index.js"

/**
 * `duet train` with a Hugging Face policy: the tiny random Llama fixture (GQA, byte-level BPE
 * tokenizer whose post-processor adds BOS) on one-digit addition, a short SFT warm start and a few
 * 2-GRPO steps through `Train.train`; checkpoints in HF layout; resume bit-exact.
 */
const fixture = join(__dirname, "../../model/test/fixtures/hf/llama-gqa")
const tiny = [
  `model.hf=${fixture}`,
  "model.blockSize=64",
  'task={"kind":"arithmetic","ops":["+"],"digits":{"min":1,"max":1},"oodDigits":{"min":2,"max":2},"reversed":false}',
  "sft.steps=10",
  "sft.batchSize=16",
  "sft.target=false",
  "sft.examples=40",
  "rl.trainProblems=40",
  "rl.promptsPerStep=8",
  "rl.warmupSteps=0",
  "rl.sampling.maxTokens=4",
  "eval.problems=8",
  "eval.n=2",
  "eval.sampling.maxTokens=4",
  "checkpointEvery=2"
]
const recipeWith = (...extra: string[]) => Effect.runSync(Recipe.load(undefined, undefined, [...tiny, ...extra]))
const rlRecords = (dir: string) =>
  readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, number | string>)
    .filter((r) => r.kind === "rl")
const tmp = () => mkdtempSync(join(tmpdir(), "duet-hftrain-"))

describe("Train.train with model: { hf } (tiny Llama fixture)", () => {
  it("trains SFT + 2-GRPO steps, checkpoints in HF layout, resumes bit-exactly", async () => {
    const full = tmp()
    const summary = await Effect.runPromise(Train.train(recipeWith("rl.steps=4"), { runDir: full }))
    const a = rlRecords(full)
    expect(a.map((r) => r.step)).toEqual([0, 1, 2, 3])
    for (const r of a) expect(Number.isFinite(r["actor/grad_norm"] as number)).toBe(true)
    expect(summary?.after.find((r) => r.split === "test")).toBeDefined()
    const ckpt = RunDir.paths(full).checkpoint(4)
    for (const f of ["config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "optimizer.safetensors", "duet.json"]) expect(existsSync(join(ckpt, f)), f).toBe(true)
    expect((JSON.parse(readFileSync(join(ckpt, "config.json"), "utf8")) as { model_type: string }).model_type).toBe("llama")

    const split = tmp()
    await Effect.runPromise(Train.train(recipeWith("rl.steps=4"), { runDir: split, stopAfter: 2 }))
    await Effect.runPromise(Train.train(recipeWith("rl.steps=4"), { runDir: split, resume: true }))
    const b = rlRecords(split)
    expect(b.map((r) => r.step)).toEqual([0, 1, 2, 3])
    for (const key of ["critic/rewards/mean", "tokens/total", "actor/grad_norm", "actor/pg_loss"]) expect(b.map((r) => r[key]), key).toEqual(a.map((r) => r[key]))
    expect(readFileSync(join(RunDir.paths(split).checkpoint(4), "model.safetensors"))).toEqual(readFileSync(join(ckpt, "model.safetensors")))

    // duet eval of the HF-layout checkpoint: its recipe travels in duet.json; same draws as the run's final evaluation.
    const evaluated = await Effect.runPromise(Train.evaluateCheckpoint(ckpt, {}))
    expect(evaluated.map((r) => [r.split, r.meanAtN, r.passAtN])).toEqual(summary!.after.map((r) => [r.split, r.meanAtN, r.passAtN]))
  }, 300_000)
})
