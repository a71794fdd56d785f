import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Recipe, Setup, Train } from "../src/index.js"

/**
 * The four shapes researchers bring (made by tools/ecosystem/make_data_fixtures.py with pyarrow):
 * verl GSM8K parquet, HF GSM8K parquet, DAPO-Math-17k parquet, MATH-500 JSONL. Each loads through
 * a `dataset` task and trains a few steps of SFT + RL with a tiny model.
 */
const fixture = (name: string) => join(__dirname, "fixtures", "ecosystem", name)
const task = (stem: string, ext: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ kind: "dataset", train: fixture(`${stem}-train.${ext}`), test: fixture(`${stem}-test.${ext}`), ...extra })
const recipe = (taskJson: string, blockSize: number, ...extra: string[]) =>
  Effect.runSync(
    Recipe.load(undefined, undefined, [
      `task=${taskJson}`,
      `model={"nLayer":1,"nHead":2,"nEmbd":16,"blockSize":${blockSize}}`,
      "sft.steps=3", "sft.target=false", "sft.examples=24", "sft.batchSize=8",
      "rl.trainProblems=24", "rl.promptsPerStep=4", "rl.steps=2", "rl.sampling.maxTokens=4",
      "eval.problems=8", "eval.n=2", "eval.sampling.maxTokens=4", "checkpointEvery=0",
      ...extra
    ])
  )
const tmp = () => mkdtempSync(join(tmpdir(), "duet-dataset-"))
const failure = async (r: Recipe.Recipe) => {
  const exit = await Effect.runPromise(Effect.exit(Setup.make(r)))
  expect(exit._tag).toBe("Failure")
  return JSON.stringify(exit)
}

describe("dataset tasks in the shapes of verl, HF and DAPO data", () => {
  const cases = [
    { name: "verl GSM8K parquet", stem: "verl-gsm8k", ext: "parquet", format: "verl", block: 128 },
    { name: "HF GSM8K parquet", stem: "hf-gsm8k", ext: "parquet", format: "gsm8k", block: 64 },
    { name: "DAPO-Math-17k parquet", stem: "dapo-math", ext: "parquet", format: "dapo", block: 272 },
    { name: "MATH-500 JSONL", stem: "math500", ext: "jsonl", format: "math", block: 32 }
  ] as const

  for (const c of cases) {
    it(`${c.name}: the format is detected, rows load, and duet train runs a few steps`, async () => {
      const r = recipe(task(c.stem, c.ext), c.block)
      const setup = await Effect.runPromise(Setup.make(r))
      expect(setup.task.name).toBe("dataset:auto")
      expect(setup.splits.train).toHaveLength(24)
      expect(setup.splits.test).toHaveLength(8)
      // Parquet INT64 (verl's extra_info.index) must not reach JSON.stringify as a bigint.
      expect(() => JSON.stringify(setup.splits.train)).not.toThrow()
      const p = setup.splits.test[0]!
      expect(Setup.grade(setup.task, `${p.answer}\n`, p)).toBe(true)
      expect(Setup.grade(setup.task, `${Number(p.answer) + 1}\n`, p)).toBe(false)
      // DAPO's "Answer: N" last line, GSM8K's "#### N" and a box are read too (first line only).
      expect(Setup.grade(setup.task, `so we add. Answer: ${p.answer}\nmore`, p)).toBe(true)
      expect(Setup.grade(setup.task, `it is $\\boxed{${p.answer}}$\n`, p)).toBe(true)
      expect(Setup.grade(setup.task, `x #### ${p.answer}\n`, p)).toBe(true)
      expect(Setup.grade(setup.task, `x\n#### ${p.answer}`, p)).toBe(false)
      // The named format gives the same problems as detection.
      const named = await Effect.runPromise(Setup.make(recipe(task(c.stem, c.ext, { format: c.format }), c.block)))
      expect(named.splits.train.map((q) => [q.prompt, q.answer])).toEqual(setup.splits.train.map((q) => [q.prompt, q.answer]))
      const run = join(tmp(), "run")
      const summary = await Effect.runPromise(Train.train(r, { runDir: run }))
      expect(summary?.after.map((e) => e.split)).toEqual(["test"])
      const kinds = readFileSync(join(run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { kind: string }).kind)
      expect(kinds.filter((k) => k === "rl")).toHaveLength(2)
      expect(kinds).toContain("sft")
    }, 120_000)
  }

  it("verl rows keep their extra_info with the INT64 index as a number", async () => {
    const setup = await Effect.runPromise(Setup.make(recipe(task("verl-gsm8k", "parquet"), 128)))
    const meta = setup.splits.train[3]!.meta as { extra_info: { index: unknown }; solution: string; data_source: string }
    expect(meta.extra_info.index).toBe(3)
    expect(meta.data_source).toBe("openai/gsm8k")
    expect(meta.solution).toMatch(/^Ann has \d\+\d=<<.*>>\d+ pens\.$/)
  })

  it("sft: solution trains on the worked solution, on one line, graded by its final answer", async () => {
    const r = recipe(task("math500", "jsonl", { sft: "solution" }), 64)
    const setup = await Effect.runPromise(Setup.make(r))
    const p = setup.splits.train[1]!
    const demo = setup.task.demonstration(p)
    expect(demo).toBe(`We add: $${p.prompt.slice(9, 12)}=${p.answer}$. So it is $\\boxed{${p.answer}}$.\n`)
    expect(Setup.grade(setup.task, demo, p)).toBe(true)
    const gsm = await Effect.runPromise(Setup.make(recipe(task("hf-gsm8k", "parquet", { sft: "solution" }), 128)))
    const q = gsm.splits.train[0]!
    expect(gsm.task.demonstration(q)).toMatch(new RegExp(`pens\\. #### ${q.answer}\\n$`))
    expect(Setup.grade(gsm.task, gsm.task.demonstration(q), q)).toBe(true)
    await Effect.runPromise(Train.train(r, { runDir: join(tmp(), "run") }))
  }, 120_000)

  it("sft: solution on data without solutions, and a too-small blockSize, are named errors", async () => {
    expect(await failure(recipe(task("dapo-math", "parquet", { sft: "solution" }), 512))).toMatch(/task\.sft: \\"solution\\", but .*dapo-math-train\.parquet#0 has no solution column/)
    const small = await failure(recipe(task("hf-gsm8k", "parquet"), 32))
    expect(small).toMatch(/> model\.blockSize 32 \(and 31 more rows\); set model\.blockSize to at least 50 \(the longest row\)/)
  })

  it("columns map any other shape; bad files and formats name the field and the file", async () => {
    const mapped = await Effect.runPromise(
      Setup.make(recipe(task("math500", "jsonl", { columns: { prompt: "problem", answer: "solution", gold: "last-boxed", solution: "solution" }, sft: "solution" }), 64))
    )
    expect(mapped.splits.train[0]!.answer).toBe("0")
    expect(await failure(recipe(task("math500", "jsonl", { format: "gsm8k" }), 64))).toMatch(/math500-train\.jsonl:1: field \\"question\\": is missing/)
    expect(await failure(recipe(task("math500", "jsonl", { format: "math", columns: { prompt: "problem", answer: "answer" } }), 64))).toMatch(/task\.train: .*give format or columns, not both/)
    expect(await failure(recipe(JSON.stringify({ kind: "dataset", train: fixture("README.txt"), test: fixture("math500-test.jsonl") }), 64))).toMatch(/task\.train: .*README\.txt: has the extension \\"\.txt\\"; expected \.jsonl/)
    const exit = Effect.runSync(Effect.exit(Recipe.load(undefined, undefined, [`task=${task("math500", "jsonl", { format: "csv" })}`])))
    expect(JSON.stringify(exit)).toMatch(/task\.format/)
  })
})
