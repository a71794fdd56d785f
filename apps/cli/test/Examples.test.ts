/**
 * examples/ run as a user runs them (the built `duet` binary, a TypeScript recipe from outside
 * packages/), on budgets of seconds, and show what they claim: the custom estimator is the one
 * used and the policy learns with it; the composite reward is real-valued, recorded and rises; the
 * theory checks give the exact constants for a user estimator.
 */
import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { AdvantageTransform, Scores } from "@duet/core"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const bin = fileURLToPath(new URL("../bin/duet.js", import.meta.url))
const duet = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: root, timeout: 240_000 })

/** One-digit addition after a short, weak warm start (training reward ~0.2-0.4): room to learn in 60 steps. */
const tiny = [
  'task={"kind":"arithmetic","ops":["+"],"digits":{"min":1,"max":1},"oodDigits":{"min":2,"max":2},"reversed":false}',
  "sft.steps=60",
  "sft.target=false",
  "sft.examples=80",
  "rl.trainProblems=80",
  "rl.lr=1e-3",
  "rl.warmupSteps=2",
  "rl.sampling.maxTokens=4",
  "rl.steps=60",
  "eval.problems=12",
  "eval.n=4",
  "eval.sampling.maxTokens=4",
  "checkpointEvery=0"
].flatMap((s) => ["--set", s])

const train = (recipe: string, extra: string[] = []) => {
  const out = join(mkdtempSync(join(tmpdir(), "duet-example-")), "run")
  const r = duet(["train", "--recipe", recipe, ...tiny, ...extra, "--out", out])
  expect(r.stderr).not.toMatch(/Error/)
  expect(r.status).toBe(0)
  const records = readFileSync(join(out, "metrics.jsonl"), "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, number | string>)
  return { recipe: JSON.parse(readFileSync(join(out, "recipe.json"), "utf8")), rl: records.filter((r) => r.kind === "rl"), stdout: r.stdout }
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length

describe("examples/", () => {
  it("custom-estimator.ts: duet train runs the user's mean-sign estimator, and the policy learns", async () => {
    const { meanSign } = await import("../../../examples/mean-sign.js")
    // The estimator itself: signs of (r - group mean), which no built-in gives ([1,0,0,0] -> +1, -1, -1, -1).
    expect(Array.from(AdvantageTransform.apply(meanSign, Scores.make([1, 0, 0, 0, 2, 2], [0, 0, 0, 0, 1, 1])).values)).toEqual([1, -1, -1, -1, 0, 0])
    const run = train("examples/custom-estimator.ts", ["--set", "rl.promptsPerStep=64"])
    expect(run.recipe.name).toBe("custom-estimator")
    expect(run.recipe.rl.estimator).toEqual({ kind: "custom", name: "mean-sign" })
    expect(run.rl).toHaveLength(60)
    // Its advantages do not sum to 0 per group (a mean-baseline estimator's would): the value was used.
    expect(run.rl.some((r) => Math.abs(r["critic/advantages/mean"] as number) > 0.01)).toBe(true)
    const rewards = run.rl.map((r) => r["critic/rewards/mean"] as number)
    // 10 steps x 256 rollouts each: a 0.1 lift is ~6.5 standard errors of a Bernoulli mean at p = 0.5.
    expect(mean(rewards.slice(-10)) - mean(rewards.slice(0, 10))).toBeGreaterThan(0.1)
  }, 240_000)

  it("composite-reward.ts: a real-valued reward (correct + 0.2 format) is trained on and rises; evaluation still grades correctness", async () => {
    const { correctAndFormat } = await import("../../../examples/composite-reward.js")
    const problem = { id: "p", prompt: "3+4=", answer: "7" }
    expect([correctAndFormat("7\n", problem), correctAndFormat("7", problem), correctAndFormat("8\n", problem), correctAndFormat("x\n", problem)]).toEqual([1.2, 1, 0.2, 0])
    const run = train("examples/composite-reward.ts", ["--set", "rl.promptsPerStep=128"])
    expect(run.recipe.rl.reward).toEqual({ kind: "custom", name: "correctAndFormat" })
    expect(run.recipe.rl.estimator).toEqual({ kind: "rloo" }) // from the shipped recipes/rloo.yaml it extends
    const rewards = run.rl.map((r) => r["critic/rewards/mean"] as number)
    // Not a 0/1 grade: some step's mean is not a whole number of rewards over its rollouts.
    expect(run.rl.some((r) => Math.abs((r["critic/rewards/mean"] as number) * (r.rollouts as number) - Math.round((r["critic/rewards/mean"] as number) * (r.rollouts as number))) > 1e-6)).toBe(true)
    expect(Math.max(...rewards)).toBeLessThanOrEqual(1.2)
    expect(mean(rewards.slice(-10)) - mean(rewards.slice(0, 10))).toBeGreaterThan(0.1)
    expect(run.stdout).toMatch(/test\s+Mean@4\s+[\d.]+%\s+[\d.]+%/)
  }, 240_000)

  it("theory-check.ts: exact expectations for the user estimator (= RLOO at G = 2, biased at G = 4)", async () => {
    const { rows } = await import("../../../examples/theory-check.js")
    const at = (estimator: string, G: number) => rows().find((r) => r.estimator === estimator && r.groupSize === G)!
    expect(at("mean-sign", 2).scale).toBeCloseTo(1, 12)
    expect(at("mean-sign", 2).unbiasedUpToScale).toBe(true)
    expect(at("mean-sign", 4).unbiasedUpToScale).toBe(false)
    expect(at("mean-sign", 4).residual).toBeGreaterThan(0.05)
    expect(at("rloo", 4).scale).toBeCloseTo(1, 12)
  })

  it("custom-loop.ts: a loop of the user's own over the exported stages learns, and evaluates", async () => {
    const { customLoop } = await import("../../../examples/custom-loop.js")
    const { Effect } = await import("effect")
    const fields = {
      task: { kind: "arithmetic", ops: ["+"], digits: { min: 1, max: 1 }, oodDigits: { min: 2, max: 2 }, reversed: false },
      sft: { steps: 60, target: false, examples: 80 },
      rl: { trainProblems: 80, sampling: { maxTokens: 4 } },
      eval: { problems: 12, n: 4, sampling: { maxTokens: 4 } }
    } as const
    const { rewards, evaluation } = await Effect.runPromise(customLoop(fields, 60))
    expect(rewards).toHaveLength(60)
    // 10 steps x 256 rollouts on each side: the difference of two Bernoulli means at p = 0.5 has a
    // standard error of 0.014, so a 0.05 lift is ~3.5 of them (measured: 0.11 on OpenBLAS, seed 1).
    expect(mean(rewards.slice(-10)) - mean(rewards.slice(0, 10))).toBeGreaterThan(0.05)
    expect(evaluation.map((r) => [r.split, r.n])).toEqual([["test", 4], ["ood", 4]])
  }, 240_000)

  it("the README's TypeScript recipe runs as written (extracted from README.md, not a copy)", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8")
    const section = readme.slice(readme.indexOf("## Your own estimator"))
    const code = /```ts\n([\s\S]*?)```/.exec(section)![1]!
    expect(code.split("\n").length).toBeLessThanOrEqual(15)
    // Inside the repository (so @duet/* resolve as for a user's file beside packages/), in an ignored folder.
    const dir = mkdtempSync(join(root, "node_modules", ".cache-duet-readme-"))
    writeFileSync(join(dir, "my-trainer.ts"), code)
    const out = join(mkdtempSync(join(tmpdir(), "duet-example-")), "run")
    const small = ['model={"nLayer":1,"nHead":2,"nEmbd":32,"blockSize":16}', "sft.steps=5", "sft.target=false", "sft.examples=40", "rl.trainProblems=40", "rl.promptsPerStep=8", "rl.steps=2", "eval.problems=4", "eval.n=2", "checkpointEvery=0"]
    const r = duet(["train", "--recipe", join(dir, "my-trainer.ts"), ...small.flatMap((s) => ["--set", s]), "--out", out])
    rmSync(dir, { recursive: true, force: true })
    expect(r.stderr).not.toMatch(/Error/)
    expect(r.status).toBe(0)
    const recipe = JSON.parse(readFileSync(join(out, "recipe.json"), "utf8"))
    expect(recipe.name).toBe("my-trainer")
    expect(recipe.rl.estimator).toEqual({ kind: "custom", name: "mean-sign" })
    expect(recipe.rl.groupSize).toEqual({ kind: "fixed", size: 4 })
  }, 120_000)

  it("a TypeScript recipe's mistakes name the file and the field; other commands refuse a .ts recipe", () => {
    const bad = duet(["train", "--recipe", "examples/custom-estimator.ts", "--set", 'rl.groupSize={"kind":"fixed","size":1}'])
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/custom-estimator\.ts: rl\.groupSize\.size: (group estimators need at least 2|Expected)/)
    const compare = duet(["compare", "--recipe", "examples/custom-estimator.ts"])
    expect(compare.status).not.toBe(0)
    expect(compare.stderr).toMatch(/a TypeScript recipe carries plugin values; run it with duet train/)
  })
})
