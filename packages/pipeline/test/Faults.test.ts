/**
 * Fault injection (issue 13): NaN learning rates, a corrupt `latest`, killed saves, a deleted
 * optimizer state, a resume with another recipe. Tiny model and task, so each case takes seconds.
 */
import { describe, expect, it } from "vitest"
import { Effect, Exit } from "effect"
import { existsSync, mkdtempSync, readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Recipe, Train } from "../src/index.js"

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
    expect(message).toMatch(/rl step 1: the parameter norm went from .*rl\.lr is scheduled at 1000000/)
    expect(existsSync(join(dir, "checkpoints", "step-000000"))).toBe(true)
  }, 120_000)
})
