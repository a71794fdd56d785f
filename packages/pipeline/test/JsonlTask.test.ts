import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Recipe, Setup, Train } from "../src/index.js"

const rows = (n: number, offset: number) =>
  Array.from({ length: n }, (_, i) => {
    const a = (i + offset) % 10
    const b = (i * 3 + offset) % 10
    return JSON.stringify({ question: `${a} plus ${b}?`, answer: `add them: ${a}+${b}=${a + b}\n#### ${a + b}` })
  }).join("\n")

describe("a JSONL (GSM8K-shaped) task", () => {
  it("loads, grades by value with the math verifier, and trains a step", async () => {
    const dir = mkdtempSync(join(tmpdir(), "duet-jsonl-"))
    writeFileSync(join(dir, "train.jsonl"), rows(40, 0))
    writeFileSync(join(dir, "test.jsonl"), rows(8, 5))
    const recipe = Effect.runSync(
      Recipe.load(undefined, undefined, [
        `task={"kind":"jsonl","format":"gsm8k","train":"${join(dir, "train.jsonl")}","test":"${join(dir, "test.jsonl")}"}`,
        'model={"nLayer":1,"nHead":2,"nEmbd":32,"blockSize":32}',
        "sft.steps=5", "sft.target=false", "sft.examples=40", "rl.trainProblems=40", "rl.promptsPerStep=8", "rl.steps=1",
        "eval.problems=8", "eval.n=2"
      ])
    )
    const setup = await Effect.runPromise(Setup.make(recipe))
    const problem = setup.splits.test[0]!
    expect(Setup.grade(setup.task, `${problem.answer}.0\n`, problem)).toBe(true)
    expect(Setup.grade(setup.task, `${Number(problem.answer) + 1}\n`, problem)).toBe(false)
    const run = join(dir, "run")
    const summary = await Effect.runPromise(Train.train(recipe, { runDir: run }))
    expect(summary?.after.map((r) => r.split)).toEqual(["test"])
    expect(readFileSync(join(run, "metrics.jsonl"), "utf8")).toMatch(/"kind":"rl"/)
  }, 120_000)
  it("a bad row names the file and line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "duet-jsonl-"))
    writeFileSync(join(dir, "train.jsonl"), rows(3, 0) + '\n{"question": "x"}\n')
    writeFileSync(join(dir, "test.jsonl"), rows(2, 0))
    const recipe = Effect.runSync(
      Recipe.load(undefined, undefined, [`task={"kind":"jsonl","format":"gsm8k","train":"${join(dir, "train.jsonl")}","test":"${join(dir, "test.jsonl")}"}`])
    )
    const exit = await Effect.runPromise(Effect.exit(Setup.make(recipe)))
    expect(exit._tag).toBe("Failure")
    expect(JSON.stringify(exit)).toMatch(/train\.jsonl:4/)
  })
})
