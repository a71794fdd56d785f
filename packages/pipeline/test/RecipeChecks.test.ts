import { describe, expect, it } from "vitest"
import { Effect, Exit } from "effect"
import { Recipe } from "../src/index.js"

const errorOf = <A, E>(eff: Effect.Effect<A, E>): string => {
  const exit = Effect.runSync(Effect.exit(eff))
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return String((exit.cause as unknown as { reasons?: Array<{ error?: { message?: string } }> }).reasons?.[0]?.error?.message ?? exit.cause)
}
const withSets = (...sets: string[]) => Recipe.load(undefined, undefined, sets)
// Decode-time checks: the recipe fails before any drawing or training (tests never assert on wall time).
const timed = (f: () => string): string => f()

describe("recipe checks at decode time (issue 13)", () => {
  it("sizes far beyond what the task can give fail at once, naming the recipe field", () => {
    expect(timed(() => errorOf(withSets("sft.examples=100000000")))).toMatch(/sft\.examples: is 100,000,000, but the arithmetic task has at most 20,000 distinct training problems/)
    expect(errorOf(withSets("rl.trainProblems=1000000"))).toMatch(/rl\.trainProblems: is 1,000,000/)
    expect(errorOf(withSets("eval.problems=50000"))).toMatch(/eval\.problems: is 50,000, but the arithmetic task has at most/)
    expect(errorOf(withSets("sft.target.probe=19000"))).toMatch(/sft\.target\.probe: is 19,000 held-out problems after the 2,000 demonstrated ones, but the arithmetic task has at most 20,000 distinct training problems/)
  })
  it("values that only failed deep in the engine are refused with their path", () => {
    expect(errorOf(withSets("rl.maxGradNorm=0"))).toMatch(/rl\.maxGradNorm: Expected a value greater than 0/)
    expect(errorOf(withSets("rl.sampling.topP=0"))).toMatch(/rl\.sampling\.topP: Expected a value greater than 0/)
    expect(errorOf(withSets("eval.sampling.topP=0"))).toMatch(/eval\.sampling\.topP/)
    expect(errorOf(withSets('rl.loss={"kind":"ppo-clip","epsLow":1.5}'))).toMatch(/rl\.loss\.epsLow: is 1\.5; must be in \[0, 1\)/)
    expect(errorOf(withSets('rl.loss={"kind":"ppo-clip","dualClip":0.5}'))).toMatch(/rl\.loss\.dualClip: Expected a value greater than or equal to 1/)
    expect(errorOf(withSets('rl.loss={"kind":"dpo","variant":"sigmoid","beta":0}'))).toMatch(/rl\.loss\.beta: is 0; must be a finite number > 0/)
    expect(errorOf(withSets('rl.loss={"kind":"dpo","variant":"sigmoid","beta":0.1,"labelSmoothing":0.9}'))).toMatch(/rl\.loss\.labelSmoothing/)
  })
  it("a model too short for the task's prompts and answers is refused before any work", () => {
    expect(errorOf(withSets("model.blockSize=8"))).toMatch(/model\.blockSize: is 8, but train prompts take up to 7 tokens \(BOS included\) and answers up to 4; raise it to at least 11/)
  })
  it("a run name must stay inside runs/ and not be empty", () => {
    expect(errorOf(withSets("name=../../../elsewhere/x"))).toMatch(/name: "\.\.\/\.\.\/\.\.\/elsewhere\/x" is not a plain name/)
    expect(errorOf(withSets("name=a/b"))).toMatch(/name: .* is not a plain name/)
    expect(errorOf(withSets("name=.."))).toMatch(/name: /)
    expect(errorOf(withSets('name=""'))).toMatch(/name: is empty/)
    expect(Effect.runSync(withSets("name=my-run_2.b")).name).toBe("my-run_2.b")
  })
  it("a list or scalar recipe file is refused, with or without --set", () => {
    expect(errorOf(Recipe.load("r.yaml", "- 1\n- 2\n", ["rl.steps=3"]))).toMatch(/^r\.yaml: a recipe file must be a mapping of fields .* found a list/)
    expect(errorOf(Recipe.load("r.yaml", "42\n", ["rl.steps=3"]))).toMatch(/found a number/)
    expect(errorOf(Recipe.load("r.yaml", "just text\n"))).toMatch(/found a string/)
    expect(Effect.runSync(Recipe.load("r.yaml", "", ["rl.steps=3"])).rl.steps).toBe(3)
  })
})

describe("data rows against model.blockSize (issue 13)", () => {
  it("a prompt too long for the model fails at load with its file and line", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs")
    const { tmpdir } = await import("node:os")
    const { join } = await import("node:path")
    const { Setup } = await import("../src/index.js")
    const dir = mkdtempSync(join(tmpdir(), "duet-block-"))
    const row = (q: string) => JSON.stringify({ question: q, answer: `#### 3` })
    writeFileSync(join(dir, "train.jsonl"), [row("1+2?"), row("x".repeat(40)), row("y".repeat(50))].join("\n"))
    writeFileSync(join(dir, "test.jsonl"), row("2+1?"))
    const recipe = Effect.runSync(
      withSets(
        `task={"kind":"jsonl","format":"gsm8k","train":"${join(dir, "train.jsonl")}","test":"${join(dir, "test.jsonl")}"}`,
        'model={"nLayer":1,"nHead":2,"nEmbd":32,"blockSize":32}',
        "sft.target=false", "sft.examples=3", "rl.trainProblems=3", "eval.problems=1"
      )
    )
    const exit = await Effect.runPromise(Effect.exit(Setup.make(recipe)))
    expect(Exit.isFailure(exit) ? JSON.stringify(exit.cause) : "success").toContain(
      `${join(dir, "train.jsonl")}:2: the prompt takes 41 tokens (BOS included) and the answer 2 (stop included): 43 > model.blockSize 32 (and 1 more rows); set model.blockSize to at least 53 (the longest row) or leave such rows out of the data`
    )
  })
})
