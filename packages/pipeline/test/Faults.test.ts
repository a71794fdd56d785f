/**
 * Fault injection (issue 13): NaN learning rates, a corrupt `latest`, killed saves, a deleted
 * optimizer state, a resume with another recipe. Tiny model and task, so each case takes seconds.
 */
import { describe, expect, it } from "vitest"
import { Effect, Exit } from "effect"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Checkpoint } from "@duet/model"
import { tf } from "@duet/engine"
import { Recipe, RunDir, Train } from "../src/index.js"

const tiny = [
  'task={"kind":"arithmetic","ops":["+"],"digits":{"min":1,"max":1},"oodDigits":{"min":2,"max":2},"reversed":false}',
  'model={"nLayer":1,"nHead":2,"nEmbd":32,"blockSize":16}',
  "sft.steps=40",
  "sft.examples=40",
  "sft.warmupSteps=0",
  // One greedy probe problem at the last SFT step (the recipe's own target would need 200 more problems).
  'sft.target={"greedyAccuracy":1,"every":1000,"probe":1}',
  "rl.trainProblems=60",
  "rl.promptsPerStep=32",
  "rl.steps=4",
  "rl.warmupSteps=0",
  "rl.sampling.maxTokens=4",
  "eval.problems=4",
  "eval.n=2",
  "eval.sampling.maxTokens=4",
  "checkpointEvery=1"
]
const recipeWith = (...extra: string[]) => Effect.runSync(Recipe.load(undefined, undefined, [...tiny, ...extra]))
const tmp = () => mkdtempSync(join(tmpdir(), "duet-faults-"))
const failure = async <A, E>(eff: Effect.Effect<A, E>): Promise<string> => {
  const exit = await Effect.runPromise(Effect.exit(eff))
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return JSON.stringify(exit.cause)
}

describe("non-finite guard", () => {
  it("sft.lr=1e30 stops the run naming the step and sft.lr, and saves nothing", async () => {
    const dir = tmp()
    const message = await failure(Train.train(recipeWith("sft.lr=1e30", "sft.steps=20"), { runDir: dir }))
    expect(message).toMatch(/sft step 1: the parameter norm went from .* in one update.*sft\.lr is 1e\+30/)
    expect(readdirSync(join(dir, "checkpoints"))).toEqual([])
  }, 120_000)
  it("rl.lr=1e6 stops the run at the RL step that broke, after the good step-0 checkpoint", async () => {
    const dir = tmp()
    const message = await failure(Train.train(recipeWith("rl.lr=1e6"), { runDir: dir }))
    expect(message).toMatch(/rl step 1: the parameter norm went from .*rl\.lr is 1000000/)
    expect(existsSync(join(dir, "checkpoints", "step-000000"))).toBe(true)
  }, 120_000)
})

const logger = () => {
  const lines: string[] = []
  return { lines, reporter: { progress: () => {}, log: (l: string) => void lines.push(l) } }
}
const ckpt = (dir: string, step: number) => RunDir.paths(dir).checkpoint(step)
const rlSteps = (dir: string) =>
  readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.includes('"kind":"rl"'))
    .map((l) => (JSON.parse(l) as { step: number }).step)

describe("resume is for the same run", () => {
  it("a different recipe or model is refused with the fields that differ", async () => {
    const dir = tmp()
    await Effect.runPromise(Train.train(recipeWith(), { runDir: dir, stopAfter: 1 }))
    const message = await failure(Train.train(recipeWith('rl.estimator={"kind":"rloo"}', "seed=5"), { runDir: dir, resume: true }))
    expect(message).toMatch(/--resume: the recipe differs from the run's \(.*recipe\.json\): rl\.estimator\.kind: \\"2-grpo\\" -> \\"rloo\\"; seed: 1 -> 5\. .*--init .*checkpoints\/step-NNNNNN --out NEW_DIR/)
    const model = await failure(Train.train(recipeWith('model={"nLayer":2,"nHead":2,"nEmbd":32,"blockSize":16}'), { runDir: dir, resume: true }))
    expect(model).toMatch(/model\.nLayer: 1 -> 2/)
  }, 120_000)
  it("a finished run resumes as a no-op: no second evaluation, summary unchanged", async () => {
    const dir = tmp()
    const first = await Effect.runPromise(Train.train(recipeWith(), { runDir: dir }))
    const metrics = readFileSync(join(dir, "metrics.jsonl"), "utf8")
    const summary = readFileSync(join(dir, "summary.json"), "utf8")
    const { lines, reporter } = logger()
    const again = await Effect.runPromise(Train.train(recipeWith(), { runDir: dir, resume: true, reporter }))
    expect(again).toEqual(JSON.parse(JSON.stringify(first)))
    expect(readFileSync(join(dir, "metrics.jsonl"), "utf8")).toBe(metrics)
    expect(readFileSync(join(dir, "summary.json"), "utf8")).toBe(summary)
    expect(lines.join("\n")).toMatch(/already finished/)
    // Training longer is the same run: more RL steps continue it, with one "after" evaluation.
    const longer = await Effect.runPromise(Train.train(recipeWith("rl.steps=6"), { runDir: dir, resume: true }))
    expect(longer?.steps).toBe(6)
    expect(rlSteps(dir)).toEqual([0, 1, 2, 3, 4, 5])
    expect(readFileSync(join(dir, "metrics.jsonl"), "utf8").match(/"phase":"after"/g)).toHaveLength(2)
    expect(await failure(Train.train(recipeWith("rl.steps=5"), { runDir: dir, resume: true }))).toMatch(/rl\.steps: 6 -> 5/)
  }, 120_000)
})

describe("checkpoint store", () => {
  it("a corrupt latest falls back to the previous intact checkpoint, loudly, and the run completes", async () => {
    const dir = tmp()
    await Effect.runPromise(Train.train(recipeWith(), { runDir: dir, stopAfter: 3 }))
    const model = join(ckpt(dir, 3), "model.safetensors")
    const bytes = readFileSync(model)
    bytes[bytes.length - 1] ^= 0xff
    writeFileSync(model, bytes)
    const { lines, reporter } = logger()
    const summary = await Effect.runPromise(Train.train(recipeWith(), { runDir: dir, resume: true, reporter }))
    expect(lines.join("\n")).toMatch(/warning: not resuming from .*step-000003\/model\.safetensors: SHA-256 differs/)
    expect(lines.join("\n")).toMatch(/resumed from .*step-000002 \(step 2\)/)
    expect(rlSteps(dir)).toEqual([0, 1, 2, 3])
    expect(summary?.steps).toBe(4)
  }, 120_000)
  it("a deleted optimizer state is not resumed with a fresh optimizer: the previous checkpoint is used, with a warning", async () => {
    const dir = tmp()
    await Effect.runPromise(Train.train(recipeWith(), { runDir: dir, stopAfter: 2 }))
    rmSync(join(ckpt(dir, 2), "optimizer.safetensors"))
    const { lines, reporter } = logger()
    await Effect.runPromise(Train.train(recipeWith(), { runDir: dir, resume: true, reporter, stopAfter: 1 }))
    expect(lines.join("\n")).toMatch(/warning: not resuming from .*step-000002\/optimizer\.safetensors: cannot be read/)
    expect(lines.join("\n")).toMatch(/resumed from .*step-000001 \(step 1\)/)
  }, 120_000)
  it("with no intact checkpoint left, resume is an error listing each one", async () => {
    const dir = tmp()
    await Effect.runPromise(Train.train(recipeWith(), { runDir: dir, stopAfter: 1 }))
    for (const s of [0, 1]) rmSync(join(ckpt(dir, s), "optimizer.safetensors"))
    const message = await failure(Train.train(recipeWith(), { runDir: dir, resume: true }))
    expect(message).toMatch(/no intact checkpoint to resume from:.*step-000001.*step-000000/)
  }, 120_000)
  it("temp files and staging folders of killed saves are removed on resume", async () => {
    const dir = tmp()
    await Effect.runPromise(Train.train(recipeWith(), { runDir: dir, stopAfter: 1 }))
    // What a save killed mid-way leaves, under a pid that cannot be alive (Linux pids stay <= 2^22).
    const dead = 4194305
    const staging = join(dir, "checkpoints", `.step-000002.tmp-${dead}-0a1b2c3d`)
    mkdirSync(staging)
    writeFileSync(join(staging, "model.safetensors"), "partial")
    writeFileSync(join(dir, "checkpoints", `latest.tmp-${dead}`), "step-0000")
    writeFileSync(join(ckpt(dir, 1), `config.json.tmp-${dead}-00ff00ff`), "{")
    writeFileSync(join(dir, `metrics.jsonl.tmp-${dead}`), "")
    const { lines, reporter } = logger()
    await Effect.runPromise(Train.train(recipeWith(), { runDir: dir, resume: true, reporter, stopAfter: 1 }))
    expect(lines.filter((l) => l.includes("left by a killed save"))).toHaveLength(4)
    expect(readdirSync(join(dir, "checkpoints")).sort()).toEqual(["latest", "step-000000", "step-000001", "step-000002"])
    expect(readdirSync(dir).filter((n) => n.includes(".tmp-"))).toEqual([])
  }, 120_000)
  it("checkpointKeepLast prunes to the newest N, keeping the step-0 warm start", async () => {
    const dir = tmp()
    await Effect.runPromise(Train.train(recipeWith("checkpointKeepLast=2"), { runDir: dir }))
    expect(readdirSync(join(dir, "checkpoints")).sort()).toEqual(["latest", "step-000000", "step-000003", "step-000004"])
  }, 120_000)
  it("eval refuses a checkpoint with non-finite parameters", async () => {
    const dir = tmp()
    await Effect.runPromise(Train.train(recipeWith(), { runDir: dir, stopAfter: 1 }))
    const loaded = await Checkpoint.load(ckpt(dir, 1))
    const name = [...loaded.params.keys()][0]!
    const broken = new Map(loaded.params)
    broken.set(name, tf.fill(loaded.params.get(name)!.shape, Number.NaN))
    const bad = join(dir, "nan")
    await Checkpoint.save(bad, { config: loaded.config, params: broken, meta: loaded.meta })
    const message = await failure(Train.evaluateCheckpoint(bad, {}))
    expect(message).toMatch(/parameters are not finite .*cannot be evaluated/)
  }, 120_000)
})
